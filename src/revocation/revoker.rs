//! The revocation steps for one binding, and the handle other parts use to ask for them.
//!
//! Elevation moves a binding to `revoking` (or finds the resolve did) and asks here: to wake the
//! worker ([`Revoker::kick`]), or, for a role its grant made after the binding stopped being
//! `granting`, to remove that role at once ([`Revoker::remove_late_role`]). Revocation never
//! reaches back into elevation.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;

use crate::audit::Origin;
use crate::bindings::model::after;
use crate::bindings::store::Schedule;
use crate::bindings::{
    Binding, BindingError, BindingId, BindingStatus, BindingStore, Ending, Evidence,
};
use crate::grants::{Accounts, GrantError, Revoked};
use crate::metrics::{AccountLabel, Metrics};

/// Ends bindings in IAM and records each step.
pub struct Revoker {
    pub(super) bindings: BindingStore,
    accounts: Accounts,
    pub(super) metrics: Arc<Metrics>,
    /// Wakes the worker when work is due now.
    pub(super) kick: Arc<Notify>,
}

impl Revoker {
    pub fn new(
        bindings: BindingStore,
        accounts: Accounts,
        metrics: Arc<Metrics>,
        kick: Arc<Notify>,
    ) -> Self {
        Self {
            bindings,
            accounts,
            metrics,
            kick,
        }
    }

    /// Wake the worker: a binding (or a resolve's bindings) became due now.
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    /// Delete a `revoking` binding's role and mark it revoked; on an IAM failure, record the
    /// attempt and leave it due again after an exponential backoff with jitter. Retried without
    /// end: the expiry condition bounds the exposure meanwhile.
    pub async fn revoke_now(&self, id: &BindingId) -> Result<Binding, BindingError> {
        let current = self
            .bindings
            .get(id)
            .await?
            .ok_or_else(|| BindingError::NotFound(id.clone()))?;
        if current.binding.status != BindingStatus::Revoking {
            return Ok(current.binding);
        }
        let origin = Origin::scheduler();
        match self.remove_role(&current.binding).await {
            Ok(steps) => {
                let removed = |_| Schedule::Remove;
                let evidence = Evidence::Iam(steps);
                self.bindings
                    .settle(id, &origin, Ending::RoleRemoved, evidence, removed, |b| {
                        b.attempts += 1
                    })
                    .await
            }
            Err(e) => {
                let message = e.to_string();
                let attempts = current.binding.attempts + 1;
                self.metrics.revocation_retries.inc();
                let backoff = backoff(attempts);
                tracing::warn!(binding = %id, attempts, error = %message, "revocation failed; will retry");
                let evidence = Evidence::RetryInMs(backoff.as_millis() as u64);
                let retry = |now| Schedule::At(after(now, backoff));
                self.bindings
                    .settle(id, &origin, Ending::RevokeFailed, evidence, retry, |b| {
                        b.attempts = attempts;
                        b.last_error = Some(message.clone());
                    })
                    .await
            }
        }
    }

    /// Remove a binding's role in its account. An account this replica does not know (its
    /// config lost it under a live binding, which start-up refuses) is an error retried later,
    /// never a skipped revocation.
    async fn remove_role(&self, binding: &Binding) -> Result<Revoked, GrantError> {
        let result = match self.accounts.get(&binding.account) {
            Some(account) => account
                .grants
                .revoke(&binding.role_name)
                .await
                .map_err(|e| account.error(e)),
            None => Err(GrantError::Account {
                account: binding.account.clone(),
                message: "not in this replica's [[aws.accounts]]; put it back to revoke its roles"
                    .into(),
                retryable: true,
                no_such_entity: false,
            }),
        };
        if result.is_err() {
            self.metrics
                .account_errors
                .get_or_create(&AccountLabel {
                    account: binding.account.clone(),
                })
                .inc();
        }
        result
    }

    /// Delete the role of a binding that stopped being `granting` while IAM made it, then
    /// record that. The role is deleted whatever the binding says: the worker may already have
    /// marked it revoked before the grant created the role. If IAM refuses, the binding goes
    /// (back) to `revoking` and the worker retries.
    pub async fn remove_late_role(
        &self,
        id: &BindingId,
        origin: &Origin,
    ) -> Result<Binding, BindingError> {
        let current = self
            .bindings
            .get(id)
            .await?
            .ok_or_else(|| BindingError::NotFound(id.clone()))?;
        match self.remove_role(&current.binding).await {
            Ok(steps) => {
                let removed = |_| Schedule::Remove;
                let evidence = Evidence::Iam(steps);
                self.bindings
                    .settle(id, origin, Ending::RoleRemoved, evidence, removed, |_| {})
                    .await
            }
            Err(e) => {
                let message = e.to_string();
                let now_due = |_| Schedule::At(Utc::now());
                let ended = self
                    .bindings
                    .settle(
                        id,
                        origin,
                        Ending::RevokeFailed,
                        Evidence::None,
                        now_due,
                        |b| b.last_error = Some(message.clone()),
                    )
                    .await?;
                self.kick();
                Ok(ended)
            }
        }
    }
}

/// How long after the `attempts`-th failure the next attempt comes: 250 ms doubling per
/// attempt up to 64 s, the upper half of that at random (jitter spreads retries of a burst).
fn backoff(attempts: u32) -> Duration {
    let base = 250 * 2u64.pow(attempts.min(8));
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_a_cap() {
        for attempts in 0..20u32 {
            let base = 250 * 2u64.pow(attempts.min(8));
            for _ in 0..50 {
                let ms = backoff(attempts).as_millis() as u64;
                assert!((base / 2..=base).contains(&ms), "{attempts}: {ms}");
            }
        }
        assert!(backoff(30) <= Duration::from_millis(64_000));
    }
}
