//! The schedule worker: every binding that needs work at a time (an approval deadline, a grant
//! deadline, an expiry, a revocation now) sits in its shard's schedule in Redis, not in a timer
//! in memory. Every replica polls the schedules and leases due entries; a worker that dies mid-way
//! loses nothing, since its lease lapses and the entry comes due again.
//!
//! Revoking here goes through [`crate::grants::Grants::revoke`]: a deny on sessions issued until
//! now (ending live sessions), then inline policies, managed attachments and the role. The
//! reconciler ([`crate::revocation`]) catches whatever this misses.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::model::{Binding, BindingId, BindingStatus, EndReason};
use super::policy;
use super::service::{Elevation, ElevationError};
use super::store::Schedule;
use crate::audit::Origin;
use crate::metrics::Metrics;
use serde_json::json;

/// How often the schedules are polled when nothing wakes the worker.
const TICK: Duration = Duration::from_millis(200);

/// When due work that failed comes due again (its lease handed back).
const RETRY: Duration = Duration::from_secs(1);
/// How often a lease is offered back while Redis is away.
const HAND_BACK_PAUSE: Duration = Duration::from_millis(500);

/// How the worker runs, from `[revocation]`.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a claimed entry stays with its worker before another may take it.
    pub lease: Duration,
    /// Entries this replica works at once.
    pub concurrency: usize,
}

impl From<&crate::config::Revocation> for Settings {
    fn from(c: &crate::config::Revocation) -> Self {
        Self {
            lease: c.lease.into(),
            concurrency: c.concurrency.max(1) as usize,
        }
    }
}

/// Run until `stop` turns true. Work in hand when it does is finished first, so a graceful stop
/// drains in-flight revocations; a kill loses none either, since their leases lapse.
pub async fn run(
    elevation: Arc<Elevation>,
    settings: Settings,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let kick = elevation.kick.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        match tick(&elevation, settings, &metrics).await {
            // A busy schedule is worked again at once: a resolve with many bindings does not
            // wait a tick between batches.
            Ok(claimed) if claimed > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "schedule tick failed; retrying"),
        }
        tokio::select! {
            _ = kick.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn tick(
    elevation: &Arc<Elevation>,
    settings: Settings,
    metrics: &Arc<Metrics>,
) -> Result<usize, ElevationError> {
    let mut work = JoinSet::new();
    let mut backlog = 0;
    let mut claimed = 0;
    let mut failed = None;
    for shard in 0..super::store::BindingStore::SHARDS {
        // A shard whose Redis is away does not hold up the others: in a Cluster they live on
        // other masters, which go on serving while one is replaced.
        match tick_shard(elevation, settings, metrics, shard, &mut work).await {
            Ok((due, n)) => {
                backlog += due;
                claimed += n;
            }
            Err(e) => failed = Some(e),
        }
    }
    metrics.revocation_queue_depth.set(backlog as i64);
    while work.join_next().await.is_some() {}
    match failed {
        Some(e) if claimed == 0 => Err(e),
        Some(e) => {
            tracing::warn!(error = %e, "schedule tick failed on a shard; retrying");
            Ok(claimed)
        }
        None => Ok(claimed),
    }
}

/// Claim and start the due work of one shard; returns the shard's backlog and how many entries
/// this worker claimed.
async fn tick_shard(
    elevation: &Arc<Elevation>,
    settings: Settings,
    metrics: &Arc<Metrics>,
    shard: u16,
    work: &mut JoinSet<()>,
) -> Result<(u64, usize), ElevationError> {
    let now = Utc::now();
    let backlog = elevation.bindings.due_count(shard, now).await?;
    let mut claimed = 0;
    for id in elevation
        .bindings
        .due(shard, now, settings.concurrency)
        .await?
    {
        // Bound the work in hand: wait for a slot before claiming more.
        while work.len() >= settings.concurrency {
            work.join_next().await;
        }
        let lease_end = policy::expires(now, settings.lease);
        let due = match elevation.bindings.claim(&id, now, lease_end).await {
            Ok(Some(due)) => due,
            Ok(None) => continue,
            Err(e) => {
                // The claim may have been applied with its answer lost.
                hand_back(elevation.clone(), id, lease_end);
                return Err(e.into());
            }
        };
        claimed += 1;
        let (elevation, metrics) = (elevation.clone(), metrics.clone());
        work.spawn(async move {
            if let Err(e) = process(&elevation, &id, due, &metrics).await {
                tracing::warn!(binding = %id, error = %e, "scheduled work failed; will retry");
                hand_back(elevation, id, lease_end);
            }
        });
    }
    Ok((backlog, claimed))
}

/// Hand back the lease on `id` taken until `lease_end`, so that the entry comes due again in
/// [`RETRY`] rather than when the lease lapses: an expiry must not wait out a lease because
/// Redis failed over under the work. Retried while Redis is away, until the lease would lapse
/// anyway; detached, so that one shard's failover does not hold up the others.
fn hand_back(elevation: Arc<Elevation>, id: BindingId, lease_end: DateTime<Utc>) {
    tokio::spawn(async move {
        loop {
            let retry = policy::expires(Utc::now(), RETRY);
            match elevation.bindings.release(&id, lease_end, retry).await {
                Ok(_) => return,
                Err(_) if retry < lease_end => tokio::time::sleep(HAND_BACK_PAUSE).await,
                Err(e) => {
                    tracing::warn!(binding = %id, error = %e, "lease not handed back; it lapses");
                    return;
                }
            }
        }
    });
}

/// Do whatever a due binding needs. `due` is when it came due: for a revocation, its trigger
/// (the resolve, the expiry, the revoke request), unless a failed attempt pushed it back.
async fn process(
    elevation: &Elevation,
    id: &BindingId,
    due: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<(), ElevationError> {
    let Some(current) = elevation.bindings.get(id).await? else {
        return elevation.bindings.unschedule(id).await.map_err(Into::into);
    };
    let b = current.binding;
    let now = Utc::now();
    match b.status {
        BindingStatus::PendingApproval => {
            if b.approval_deadline.is_some_and(|d| d <= now) {
                elevation
                    .settle(id, &Origin::scheduler(), json!({}), |b| {
                        if b.status == BindingStatus::PendingApproval {
                            b.status = BindingStatus::Revoked;
                            b.end_reason = Some(EndReason::ApprovalExpired);
                        }
                        (Schedule::Remove, "binding.approval_expired")
                    })
                    .await?;
            }
        }
        BindingStatus::Active if b.expires_at.is_some_and(|t| t > now) => {
            // Not due yet (rescheduled by a lease): put it back at its expiry.
            elevation
                .settle(id, &Origin::scheduler(), json!({}), |b| {
                    (Schedule::At(b.expires_at.unwrap_or_else(Utc::now)), "")
                })
                .await?;
        }
        BindingStatus::Active | BindingStatus::Granting => {
            // Expired, or a grant whose worker died: revoke.
            let reason = if b.status == BindingStatus::Active {
                EndReason::Expired
            } else {
                EndReason::GrantFailed
            };
            elevation
                .settle(id, &Origin::scheduler(), json!({}), |b| {
                    if matches!(b.status, BindingStatus::Active | BindingStatus::Granting) {
                        b.status = BindingStatus::Revoking;
                        b.end_reason = Some(reason);
                    }
                    (Schedule::At(Utc::now()), "binding.revoking")
                })
                .await?;
            finished(revoke_now(elevation, id, metrics).await?, due, metrics);
        }
        BindingStatus::Revoking => {
            finished(revoke_now(elevation, id, metrics).await?, due, metrics);
        }
        BindingStatus::Revoked | BindingStatus::Failed => {
            elevation.bindings.unschedule(id).await?;
        }
    }
    Ok(())
}

/// Count a finished revocation, and how long after it came due the role was gone.
fn finished(binding: Binding, due: DateTime<Utc>, metrics: &Metrics) {
    if binding.status == BindingStatus::Revoked {
        let lag = (Utc::now() - due).to_std().unwrap_or_default();
        metrics.revocation_lag.observe(lag.as_secs_f64());
        metrics.revocation(binding.end_reason.map_or("unknown", EndReason::as_str));
    }
}

/// Delete a `revoking` binding's role and mark it revoked; on an IAM failure, record the attempt
/// and leave it due again after an exponential backoff with jitter. Retried without end: the
/// expiry condition bounds the exposure meanwhile.
pub(super) async fn revoke_now(
    elevation: &Elevation,
    id: &BindingId,
    metrics: &Metrics,
) -> Result<Binding, ElevationError> {
    let current = elevation
        .bindings
        .get(id)
        .await?
        .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
    if current.binding.status != BindingStatus::Revoking {
        return Ok(current.binding);
    }
    match elevation.grants.revoke(&current.binding.role_name).await {
        Ok(revoked) => {
            elevation
                .settle(id, &Origin::scheduler(), json!({ "iam": revoked }), |b| {
                    b.status = BindingStatus::Revoked;
                    b.attempts += 1;
                    (Schedule::Remove, "binding.revoked")
                })
                .await
        }
        Err(e) => {
            let message = e.to_string();
            let attempts = current.binding.attempts + 1;
            metrics.revocation_retries.inc();
            let base = 250 * 2u64.pow(attempts.min(8));
            let backoff = Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2));
            tracing::warn!(binding = %id, attempts, error = %message, "revocation failed; will retry");
            elevation
                .settle(
                    id,
                    &Origin::scheduler(),
                    json!({ "retry_in_ms": backoff.as_millis() as u64 }),
                    |b| {
                        b.attempts = attempts;
                        b.last_error = Some(message.clone());
                        (
                            Schedule::At(policy::expires(Utc::now(), backoff)),
                            "binding.revoke_failed",
                        )
                    },
                )
                .await
        }
    }
}
