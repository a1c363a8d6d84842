//! The reconciler: a background pass, at start-up and every `reconcile_interval`, that compares
//! the roles IAM has under the path with the bindings Redis says should have them, and removes
//! the difference. It catches what the schedule cannot: a role made behind the service's back,
//! a Redis that lost its records, a revocation whose schedule entry vanished.
//!
//! A pass ([`reconcile_once`]) lists the roles, reads each one's tags (IAM's ListRoles leaves
//! them out), finds its binding and [`judge`]s it; then, shard by shard, re-queues bindings left
//! `revoking` with no schedule entry. A failure on one role or shard is counted and the pass
//! goes on. A Redis failure never reads as "no binding": the role is kept until the next pass.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use super::events::{Requeued, RoleRemoved};
use super::verdict::{binding_of, judge, RemoveReason, Verdict};
use crate::audit::{AuditLog, Event, Origin};
use crate::bindings::store::BindingStore;
use crate::bindings::BindingId;
use crate::grants::{Account, Accounts, GrantError, TAG_INCIDENT};
use crate::metrics::{AccountLabel, Metrics, ReasonLabel};
use crate::store::{Store, StoreError, SHARDS};

/// Roles checked at once: enough that a thousand roles fit well inside the default interval,
/// few enough to stay clear of IAM's per-account request rate.
const CONCURRENCY: usize = 8;

/// What one pass saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Roles listed under the path.
    pub roles_seen: usize,
    /// Roles removed, with the reason for each.
    pub removed: Vec<(String, RemoveReason)>,
    /// Roles of live bindings left in place.
    pub kept: usize,
    /// Roles that were gone by the time they were read (revoked meanwhile).
    pub already_gone: usize,
    /// Bindings put back in the schedule.
    pub requeued: usize,
    /// Roles, shards or listings that could not be checked; tried again next pass.
    pub errors: usize,
    /// Accounts whose roles could not be listed this pass (their granter role or IAM failing).
    pub unreachable: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Iam(#[from] GrantError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Checked {
    Kept,
    Removed(RemoveReason),
    AlreadyGone,
}

/// One pass over IAM and Redis, as of `now`. Never fails as a whole: what could not be checked
/// is counted in [`Report::errors`] and logged.
pub async fn reconcile_once(
    accounts: &Accounts,
    bindings: &BindingStore,
    now: DateTime<Utc>,
) -> Report {
    let mut report = Report::default();
    for account in accounts.iter() {
        match account.grants.list_roles().await {
            Ok(roles) => {
                report.roles_seen += roles.len();
                check_roles(accounts, account, bindings, roles, now, &mut report).await;
            }
            Err(e) => {
                let e = account.error(e);
                tracing::warn!(account = %account.name, error = %e, "reconciler cannot list an account's roles; will retry next pass");
                report.errors += 1;
                report.unreachable.push(account.name.clone());
            }
        }
    }
    for shard in 0..SHARDS {
        match bindings.requeue_stuck(shard, now).await {
            Ok(ids) => {
                for id in &ids {
                    tracing::warn!(binding = %id, "binding was revoking but off the schedule; re-queued");
                    if let Err(e) = record_requeue(bindings, id).await {
                        tracing::error!(binding = %id, error = %e, "cannot record a re-queue in the audit trail");
                        report.errors += 1;
                    }
                }
                report.requeued += ids.len();
            }
            Err(e) => {
                tracing::warn!(shard, error = %e, "reconciler cannot scan a shard for stuck revocations");
                report.errors += 1;
            }
        }
    }
    report
}

async fn check_roles(
    accounts: &Accounts,
    account: &Account,
    bindings: &BindingStore,
    roles: Vec<String>,
    now: DateTime<Utc>,
    report: &mut Report,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut checks = JoinSet::new();
    for role in roles {
        let (accounts, account) = (accounts.clone(), account.clone());
        let (bindings, permits) = (bindings.clone(), permits.clone());
        checks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let checked = check_role(&accounts, &account, &bindings, &role, now).await;
            (role, checked)
        });
    }
    while let Some(joined) = checks.join_next().await {
        match joined {
            Ok((_, Ok(Checked::Kept))) => report.kept += 1,
            Ok((role, Ok(Checked::Removed(reason)))) => report.removed.push((role, reason)),
            Ok((_, Ok(Checked::AlreadyGone))) => report.already_gone += 1,
            Ok((role, Err(e))) => {
                tracing::warn!(account = %account.name, role = %role, error = %e, "reconciler cannot check a role; will retry next pass");
                report.errors += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, "a reconciler check panicked");
                report.errors += 1;
            }
        }
    }
}

/// Read one role's tags and binding, and remove the role unless a live binding keeps it. A
/// binding of another account does not keep a role here.
async fn check_role(
    accounts: &Accounts,
    account: &Account,
    bindings: &BindingStore,
    role: &str,
    now: DateTime<Utc>,
) -> Result<Checked, CheckError> {
    let grants = &account.grants;
    let in_account = |e| CheckError::Iam(account.error(e));
    let Some(tags) = grants.role_tags(role).await.map_err(in_account)? else {
        return Ok(Checked::AlreadyGone);
    };
    let id = binding_of(role, &tags);
    let binding = match &id {
        Some(id) => bindings.get(id).await?.map(|v| v.binding),
        None => None,
    };
    // The binding's account by its catalogue name (`default` may stand for the service's own).
    let binding = binding.map(|mut b| {
        if let Some(its) = accounts.get(&b.account) {
            b.account = its.name.clone();
        }
        b
    });
    let reason = match judge(role, &tags, binding.as_ref(), &account.name, now) {
        Verdict::Keep => return Ok(Checked::Kept),
        Verdict::Remove(reason) => reason,
    };
    let revoked = grants.revoke(role).await.map_err(in_account)?;
    let incident = binding
        .as_ref()
        .map(|b| b.incident.to_string())
        .or_else(|| {
            tags.get(TAG_INCIDENT)
                .filter(|i| i.parse::<crate::keyspace::IncidentId>().is_ok())
                .cloned()
        });
    let removed = RoleRemoved {
        role_name: role.to_owned(),
        account: account.name.clone(),
        reason: reason.as_str().to_owned(),
        tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        binding_status: binding.as_ref().map(|b| b.status),
        iam: revoked,
    };
    let event = Event::loose(&Origin::reconciler(), incident, id.as_ref(), &removed);
    AuditLog::new(bindings.store().clone())
        .append(&[event])
        .await?;
    tracing::warn!(
        role = %role,
        reason = reason.as_str(),
        account = %account.name,
        binding = id.as_ref().map(|id| id.as_str()),
        status = binding.as_ref().map(|b| b.status.as_str()),
        incident = tags.get(TAG_INCIDENT).map(String::as_str),
        "reconciler removed a role"
    );
    Ok(Checked::Removed(reason))
}

/// Say in the audit trail that a binding stuck in `revoking` went back in the schedule.
async fn record_requeue(bindings: &BindingStore, id: &BindingId) -> Result<(), StoreError> {
    let incident = bindings
        .get(id)
        .await?
        .map(|v| v.binding.incident.to_string());
    let requeued = Requeued {
        binding: id.clone(),
        why: "revoking but absent from the schedule".into(),
    };
    let event = Event::loose(&Origin::reconciler(), incident, Some(id), &requeued);
    AuditLog::new(bindings.store().clone())
        .append(&[event])
        .await
}

/// The background task: one pass at start-up and one every interval, on whichever replica holds
/// the lock.
pub struct Reconciler {
    accounts: Accounts,
    bindings: BindingStore,
    store: Store,
    interval: Duration,
    metrics: Arc<Metrics>,
    /// This replica's id in the lock.
    holder: String,
    lock: redis::Script,
}

impl Reconciler {
    pub fn new(
        accounts: Accounts,
        bindings: BindingStore,
        store: Store,
        interval: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            accounts,
            bindings,
            store,
            interval,
            metrics,
            holder: uuid::Uuid::new_v4().to_string(),
            lock: redis::Script::new(include_str!("lock.lua")),
        }
    }

    /// Run until `stop` turns true (or its sender is gone). A pass in progress is abandoned at
    /// stop: every step is idempotent and the next pass, here or on another replica, redoes it.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            tokio::select! {
                _ = self.pass() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// One pass, if this replica holds (or takes) the lock.
    async fn pass(&self) {
        match self.take_lock().await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!("another replica holds the reconciler lock; skipping this pass");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reconciler cannot take its lock; skipping this pass");
                self.metrics.reconciler_errors.inc();
                return;
            }
        }
        let report = reconcile_once(&self.accounts, &self.bindings, Utc::now()).await;
        let m = &self.metrics;
        m.reconciler_runs.inc();
        for (_, reason) in &report.removed {
            m.reconciler_roles_removed
                .get_or_create(&ReasonLabel {
                    reason: reason.as_str().to_owned(),
                })
                .inc();
        }
        m.reconciler_requeued.inc_by(report.requeued as u64);
        m.reconciler_errors.inc_by(report.errors as u64);
        for account in &report.unreachable {
            m.account_errors
                .get_or_create(&AccountLabel {
                    account: account.clone(),
                })
                .inc();
        }
        tracing::info!(
            roles_seen = report.roles_seen,
            removed = report.removed.len(),
            kept = report.kept,
            already_gone = report.already_gone,
            requeued = report.requeued,
            errors = report.errors,
            unreachable = ?report.unreachable,
            "reconciler pass"
        );
    }

    async fn take_lock(&self) -> Result<bool, StoreError> {
        let key = format!("{}:reconciler:lock", self.store.prefix());
        let ttl_ms = self.interval.as_millis().max(1) as u64;
        let mut inv = self.lock.prepare_invoke();
        inv.key(key).arg(&self.holder).arg(ttl_ms);
        let mut conn = self.store.conn();
        let held: i64 = self.store.run(inv.invoke_async(&mut conn)).await?;
        Ok(held == 1)
    }
}
