//! The grant and the grant/resolve race.
//!
//! A binding is recorded as `granting` atomically with the check that its incident is open (and
//! unchanged since the decision). It becomes `active` only through a compare-and-set that again
//! requires the incident open. If the incident resolved meanwhile, the resolve script has
//! already moved the binding to `revoking`, or the final write refuses; either way the role just
//! created is removed at once, by revocation. No interleaving leaves a role behind a resolved
//! incident.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::policy::Denial;
use super::service::{Elevation, ElevationError};
use crate::audit::{Event, Origin};
use crate::bindings::events::Granted;
use crate::bindings::lifecycle::{self, Trigger};
use crate::bindings::store::{Schedule, UpdateOutcome};
use crate::bindings::{
    Binding, BindingId, BindingStatus, EndReason, Ending, Evidence, MAX_ATTEMPTS,
};
use crate::grants::GrantSpec;
use crate::store::StoreError;

impl Elevation {
    /// Run [`Self::grant`] in a task of its own, so that a caller who hangs up mid-grant cannot
    /// cancel it between creating the role and recording (or rolling back) the outcome.
    pub(super) async fn grant_detached(
        self: &Arc<Self>,
        id: BindingId,
        origin: Origin,
    ) -> Result<(Binding, Duration), ElevationError> {
        let this = self.clone();
        tokio::spawn(async move { this.grant(id, &origin).await })
            .await
            .map_err(|e| ElevationError::GrantFailed {
                account: None,
                message: format!("the grant task failed: {e}"),
            })?
    }

    /// Create the role for a `granting` binding, then make it active if its incident is still
    /// open, or remove the role at once if not.
    async fn grant(
        &self,
        id: BindingId,
        origin: &Origin,
    ) -> Result<(Binding, Duration), ElevationError> {
        let b = self.current(&id).await?.binding;
        let role = self.role(&b.role)?;
        let Some(account) = self.accounts.get(&b.account) else {
            // The config changed under a live request; start-up refuses that, so only a
            // replica with an older config gets here.
            return Err(ElevationError::GrantFailed {
                message: format!(
                    "account `{}` is not in this replica's [[aws.accounts]]",
                    b.account
                ),
                account: Some(b.account),
            });
        };
        let expires_at = b.expires_at.unwrap_or_else(Utc::now);
        let incident = b.incident.to_string();
        let spec = GrantSpec {
            binding_id: b.id.as_str(),
            incident: &incident,
            account: &account.name,
            subject: &b.subject,
            principal_arn: &b.principal_arn,
            policy: &role.entry.policy,
            managed_policies: &role.entry.managed_policies,
            permissions_boundary: role
                .entry
                .permissions_boundary
                .as_deref()
                .or(account.permissions_boundary.as_deref()),
            expires_at,
        };
        let started = std::time::Instant::now();
        let result = account
            .grants
            .grant(&spec)
            .await
            .map_err(|e| account.error(e));
        let iam = started.elapsed();
        let granted = match result {
            Ok(granted) => granted,
            Err(e) => {
                if self.current(&id).await?.binding.status != BindingStatus::Granting {
                    // Resolved or revoked while IAM worked (and maybe removed the half-made
                    // role under the grant): that, not IAM, is the outcome.
                    return Ok((self.undo_grant(&id, origin).await?, iam));
                }
                tracing::error!(binding = %id, error = %e, "grant failed; rolled back");
                let message = e.to_string();
                let removed = |_| Schedule::Remove;
                self.bindings
                    .settle(
                        &id,
                        origin,
                        Ending::GrantFailed,
                        Evidence::None,
                        removed,
                        |b| b.last_error = Some(message.clone()),
                    )
                    .await?;
                return Err(ElevationError::GrantFailed {
                    account: Some(account.name.clone()),
                    message,
                });
            }
        };
        for _ in 0..MAX_ATTEMPTS {
            let current = self.current(&id).await?;
            let now = Utc::now();
            let mut next = current.binding.clone();
            if lifecycle::apply(&mut next, Trigger::Granted, now).is_err() {
                // Resolved or revoked while IAM worked: the role must not survive.
                return Ok((self.undo_grant(&id, origin).await?, iam));
            }
            next.role_arn = Some(granted.role_arn.clone());
            next.granted_at = Some(now);
            let evidence = Granted {
                binding: id.clone(),
                from: current.binding.status,
                status: next.status,
                role_name: next.role_name.clone(),
                role_arn: granted.role_arn.clone(),
                policy: role.entry.policy.clone(),
                managed_policies: role.entry.managed_policies.clone(),
                permissions_boundary: role.entry.permissions_boundary.clone(),
                expires_at: next.expires_at,
                iam_ms: iam.as_millis() as u64,
            };
            let event = Event::new(origin, &next.incident, Some(&id), &evidence);
            let at_expiry = Schedule::At(expires_at);
            match self
                .bindings
                .update(&current, &next, at_expiry, &[event], true, now)
                .await?
            {
                UpdateOutcome::Ok => {
                    self.revoker.kick();
                    return Ok((next, iam));
                }
                UpdateOutcome::Conflict => continue,
                UpdateOutcome::IncidentNotOpen => {
                    let resolved = Ending::Revoke(EndReason::IncidentResolved);
                    let now_due = |_| Schedule::At(Utc::now());
                    self.bindings
                        .settle(&id, origin, resolved, Evidence::None, now_due, |_| {})
                        .await?;
                    return Ok((self.undo_grant(&id, origin).await?, iam));
                }
            }
        }
        Err(StoreError::Contended(id.to_string()).into())
    }

    /// Have revocation remove the role of a binding that stopped being `granting` while IAM
    /// made it, and answer the request with why.
    async fn undo_grant(&self, id: &BindingId, origin: &Origin) -> Result<Binding, ElevationError> {
        let ended = self.revoker.remove_late_role(id, origin).await?;
        match ended.end_reason {
            Some(EndReason::IncidentResolved) => Err(Denial::IncidentNotOpen.into()),
            Some(EndReason::Unassigned) => Err(Denial::NotOnCall.into()),
            _ => Ok(ended),
        }
    }
}
