//! The revocation worker: every binding that needs work at a time (an approval deadline, a grant
//! deadline, an expiry, a revocation now) sits in its shard's schedule in Redis, not in a timer
//! in memory. Every replica polls the schedules and leases due entries; a worker that dies mid-way
//! loses nothing, since its lease lapses and the entry comes due again.
//!
//! Revoking goes through [`Revoker`]: a deny on sessions issued until now (ending live
//! sessions), then inline policies, managed attachments and the role. The reconciler
//! ([`super::reconciler`]) catches whatever this misses.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::revoker::Revoker;
use crate::audit::Origin;
use crate::bindings::model::after;
use crate::bindings::store::Schedule;
use crate::bindings::{
    Binding, BindingError, BindingId, BindingStatus, BindingStore, EndReason, Ending, Evidence,
};
use crate::metrics::Metrics;

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
pub async fn run(revoker: Arc<Revoker>, settings: Settings, mut stop: watch::Receiver<bool>) {
    let kick = revoker.kick.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        match tick(&revoker, settings).await {
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

async fn tick(revoker: &Arc<Revoker>, settings: Settings) -> Result<usize, BindingError> {
    let mut work = JoinSet::new();
    let mut backlog = 0;
    let mut claimed = 0;
    let mut failed = None;
    for shard in 0..BindingStore::SHARDS {
        // A shard whose Redis is away does not hold up the others: in a Cluster they live on
        // other masters, which go on serving while one is replaced.
        match tick_shard(revoker, settings, shard, &mut work).await {
            Ok((due, n)) => {
                backlog += due;
                claimed += n;
            }
            Err(e) => failed = Some(e),
        }
    }
    revoker.metrics.revocation_queue_depth.set(backlog as i64);
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
    revoker: &Arc<Revoker>,
    settings: Settings,
    shard: u16,
    work: &mut JoinSet<()>,
) -> Result<(u64, usize), BindingError> {
    let now = Utc::now();
    let backlog = revoker.bindings.due_count(shard, now).await?;
    let mut claimed = 0;
    for id in revoker
        .bindings
        .due(shard, now, settings.concurrency)
        .await?
    {
        // Bound the work in hand: wait for a slot before claiming more.
        while work.len() >= settings.concurrency {
            work.join_next().await;
        }
        let lease_end = after(now, settings.lease);
        let due = match revoker.bindings.claim(&id, now, lease_end).await {
            Ok(Some(due)) => due,
            Ok(None) => continue,
            Err(e) => {
                // The claim may have been applied with its answer lost.
                hand_back(revoker.clone(), id, lease_end);
                return Err(e.into());
            }
        };
        claimed += 1;
        let revoker = revoker.clone();
        work.spawn(async move {
            if let Err(e) = process(&revoker, &id, due).await {
                tracing::warn!(binding = %id, error = %e, "scheduled work failed; will retry");
                hand_back(revoker, id, lease_end);
            }
        });
    }
    Ok((backlog, claimed))
}

/// Hand back the lease on `id` taken until `lease_end`, so that the entry comes due again in
/// [`RETRY`] rather than when the lease lapses: an expiry must not wait out a lease because
/// Redis failed over under the work. Retried while Redis is away, until the lease would lapse
/// anyway; detached, so that one shard's failover does not hold up the others.
fn hand_back(revoker: Arc<Revoker>, id: BindingId, lease_end: DateTime<Utc>) {
    tokio::spawn(async move {
        loop {
            let retry = after(Utc::now(), RETRY);
            match revoker.bindings.release(&id, lease_end, retry).await {
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
    revoker: &Revoker,
    id: &BindingId,
    due: DateTime<Utc>,
) -> Result<(), BindingError> {
    let Some(current) = revoker.bindings.get(id).await? else {
        return revoker.bindings.unschedule(id).await.map_err(Into::into);
    };
    let b = current.binding;
    let now = Utc::now();
    let origin = Origin::scheduler();
    let now_due = |_| Schedule::At(Utc::now());
    match b.status {
        BindingStatus::PendingApproval => {
            if let Some(deadline) = b.approval_deadline.filter(|d| *d <= now) {
                let lapsed = Ending::ApprovalLapsed { deadline };
                let removed = |_| Schedule::Remove;
                revoker
                    .bindings
                    .settle(id, &origin, lapsed, Evidence::None, removed, |_| {})
                    .await?;
            }
        }
        BindingStatus::Active if b.expires_at.is_some_and(|t| t > now) => {
            // Not due yet (rescheduled by a lease): put it back at its expiry.
            let at = b.expires_at.unwrap_or(now);
            revoker.bindings.reschedule(id, at).await?;
        }
        BindingStatus::Active | BindingStatus::Granting => {
            // Expired, or a grant whose worker died: revoke.
            let trigger = match (b.status, b.expires_at) {
                (BindingStatus::Active, Some(expires_at)) => Ending::Expire { expires_at },
                (BindingStatus::Active, None) => Ending::Revoke(EndReason::Expired),
                _ => Ending::Revoke(EndReason::GrantFailed),
            };
            revoker
                .bindings
                .settle(id, &origin, trigger, Evidence::None, now_due, |_| {})
                .await?;
            finished(&revoker.metrics, revoker.revoke_now(id).await?, due);
        }
        BindingStatus::Revoking => {
            finished(&revoker.metrics, revoker.revoke_now(id).await?, due);
        }
        BindingStatus::Revoked | BindingStatus::Failed => {
            revoker.bindings.unschedule(id).await?;
        }
    }
    Ok(())
}

/// Count a finished revocation, and how long after it came due the role was gone.
fn finished(metrics: &Metrics, binding: Binding, due: DateTime<Utc>) {
    if binding.status == BindingStatus::Revoked {
        let lag = (Utc::now() - due).to_std().unwrap_or_default();
        metrics.revocation_lag.observe(lag.as_secs_f64());
        metrics.revocation(binding.end_reason.map_or("unknown", EndReason::as_str));
    }
}
