//! Reading a binding, and revoking one: who may do which.

use chrono::Utc;

use super::service::{Elevation, ElevationError};
use crate::audit::Origin;
use crate::auth::Principal;
use crate::bindings::store::Schedule;
use crate::bindings::{lifecycle, Binding, BindingId, EndReason, Ending, Evidence};

impl Elevation {
    /// `GET /v1/elevations/{id}`: its holder, an admin, or a responder (present or past) of its incident.
    pub async fn get(&self, caller: &Principal, id: &BindingId) -> Result<Binding, ElevationError> {
        let b = self.current(id).await?.binding;
        if caller.admin || b.subject.eq_ignore_ascii_case(&caller.subject) {
            return Ok(b);
        }
        let incident = self.incidents.get(&b.incident).await?;
        if incident.is_some_and(|i| i.is_or_was_responder(&caller.subject)) {
            return Ok(b);
        }
        Err(ElevationError::Forbidden(
            "you may read your own bindings and those of incidents you respond to".into(),
        ))
    }

    /// `DELETE /v1/elevations/{id}`: its holder or an admin ends it; revocation removes the
    /// role within moments.
    pub async fn revoke(
        &self,
        caller: &Principal,
        id: &BindingId,
    ) -> Result<Binding, ElevationError> {
        let current = self.current(id).await?;
        let holder = current
            .binding
            .subject
            .eq_ignore_ascii_case(&caller.subject);
        if !holder && !caller.admin {
            return Err(ElevationError::Forbidden(
                "only the holder or an admin may revoke a binding".into(),
            ));
        }
        if !lifecycle::revocable().contains(&current.binding.status) {
            // Already on its way out, or ended: nothing more to do.
            return Ok(current.binding);
        }
        let reason = if holder {
            EndReason::RevokedByHolder
        } else {
            EndReason::RevokedByAdmin
        };
        let by = caller.subject.clone();
        let now_due = |_| Schedule::At(Utc::now());
        let origin = Origin::person(&caller.subject);
        let next = self
            .bindings
            .settle(
                id,
                &origin,
                Ending::Revoke(reason),
                Evidence::None,
                now_due,
                |b| b.ended_by = Some(by.clone()),
            )
            .await?;
        self.revoker.kick();
        Ok(next)
    }
}
