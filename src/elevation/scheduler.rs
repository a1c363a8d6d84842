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

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::model::{Binding, BindingId, BindingStatus, EndReason};
use super::policy;
use super::service::{Elevation, ElevationError};
use super::store::Schedule;

/// How often the schedules are polled when nothing wakes the worker.
const TICK: Duration = Duration::from_millis(200);
/// How long a claimed entry stays with its worker before another may take it.
const LEASE: Duration = Duration::from_secs(30);
/// Entries taken from one shard per tick, and worked at once.
const BATCH: usize = 64;

/// Run until `stop` turns true.
pub async fn run(elevation: Arc<Elevation>, mut stop: watch::Receiver<bool>) {
    let kick = elevation.kick.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = tick(&elevation).await {
            tracing::warn!(error = %e, "schedule tick failed; retrying");
        }
        tokio::select! {
            _ = kick.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn tick(elevation: &Arc<Elevation>) -> Result<(), ElevationError> {
    let mut work = JoinSet::new();
    for shard in 0..super::store::BindingStore::SHARDS {
        let now = Utc::now();
        for id in elevation.bindings.due(shard, now, BATCH).await? {
            if elevation
                .bindings
                .claim(&id, now, policy::expires(now, LEASE))
                .await?
            {
                let elevation = elevation.clone();
                work.spawn(async move {
                    if let Err(e) = process(&elevation, &id).await {
                        tracing::warn!(binding = %id, error = %e, "scheduled work failed; will retry");
                    }
                });
            }
        }
    }
    while work.join_next().await.is_some() {}
    Ok(())
}

/// Do whatever a due binding needs.
async fn process(elevation: &Elevation, id: &BindingId) -> Result<(), ElevationError> {
    let Some(current) = elevation.bindings.get(id).await? else {
        return elevation.bindings.unschedule(id).await.map_err(Into::into);
    };
    let b = current.binding;
    let now = Utc::now();
    match b.status {
        BindingStatus::PendingApproval => {
            if b.approval_deadline.is_some_and(|d| d <= now) {
                elevation
                    .settle(id, |b| {
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
                .settle(id, |b| {
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
                .settle(id, |b| {
                    if matches!(b.status, BindingStatus::Active | BindingStatus::Granting) {
                        b.status = BindingStatus::Revoking;
                        b.end_reason = Some(reason);
                    }
                    (Schedule::At(Utc::now()), "binding.revoking")
                })
                .await?;
            revoke_now(elevation, id).await?;
        }
        BindingStatus::Revoking => {
            revoke_now(elevation, id).await?;
        }
        BindingStatus::Revoked | BindingStatus::Failed => {
            elevation.bindings.unschedule(id).await?;
        }
    }
    Ok(())
}

/// Delete a `revoking` binding's role and mark it revoked; on an IAM failure, record the attempt
/// and leave it due again after a backoff.
pub(super) async fn revoke_now(
    elevation: &Elevation,
    id: &BindingId,
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
        Ok(()) => {
            elevation
                .settle(id, |b| {
                    b.status = BindingStatus::Revoked;
                    b.attempts += 1;
                    (Schedule::Remove, "binding.revoked")
                })
                .await
        }
        Err(e) => {
            let message = e.to_string();
            let attempts = current.binding.attempts + 1;
            let backoff = Duration::from_millis(250 * 2u64.pow(attempts.min(8)));
            tracing::warn!(binding = %id, attempts, error = %message, "revocation failed; will retry");
            elevation
                .settle(id, |b| {
                    b.attempts = attempts;
                    b.last_error = Some(message.clone());
                    (
                        Schedule::At(policy::expires(Utc::now(), backoff)),
                        "binding.revoke_failed",
                    )
                })
                .await
        }
    }
}
