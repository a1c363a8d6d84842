//! `POST /v1/elevations/{id}/approve`: another current responder of the incident approves a
//! pending request; the grant starts at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::events::{ApprovalRefused, Approved};
use super::policy::{self, Denial};
use super::service::{Elevation, ElevationError, GRANT_DEADLINE};
use crate::audit::{Event, Origin};
use crate::auth::Principal;
use crate::bindings::lifecycle::{self, Trigger};
use crate::bindings::store::{Schedule, UpdateOutcome, Versioned};
use crate::bindings::{Binding, BindingId};

impl Elevation {
    /// Approve binding `id` as `caller`. Returns the now active binding and the time spent in
    /// IAM. A refusal is recorded in the audit trail.
    pub async fn approve(
        self: &Arc<Self>,
        caller: &Principal,
        id: &BindingId,
    ) -> Result<(Binding, Duration), ElevationError> {
        let current = self.current(id).await?;
        let incident = current.binding.incident.clone();
        let result = self.approve_checked(caller, current).await;
        if let Err(e) = &result {
            if let Some(rule) = e.denial_rule() {
                let refused = ApprovalRefused {
                    binding: id.clone(),
                    rule: rule.to_owned(),
                    message: e.to_string(),
                };
                let origin = Origin::person(&caller.subject);
                let event = Event::new(&origin, &incident, Some(id), &refused);
                self.audit.append(&[event]).await?;
            }
        }
        result
    }

    async fn approve_checked(
        self: &Arc<Self>,
        caller: &Principal,
        current: Versioned,
    ) -> Result<(Binding, Duration), ElevationError> {
        let b = &current.binding;
        let id = &b.id;
        if b.subject.eq_ignore_ascii_case(&caller.subject) {
            return Err(ElevationError::Forbidden(
                "you cannot approve your own request; ask another responder on the incident".into(),
            ));
        }
        let incident = self
            .incidents
            .get(&b.incident)
            .await?
            .ok_or_else(|| ElevationError::IncidentNotFound(b.incident.clone()))?;
        if !incident.is_responder(&caller.subject) {
            return Err(ElevationError::Forbidden(
                "only another current responder of this incident may approve".into(),
            ));
        }
        // The requester must still be allowed: removed from the incident, or the incident
        // changed so the role no longer fits, and the approval grants nothing.
        let role = self.role(&b.role)?;
        policy::still_allowed(&incident, &b.subject, role).map_err(|denial| match denial {
            Denial::NotOnCall => ElevationError::Forbidden(
                "the requester is no longer a responder on this incident; there is nothing to approve"
                    .into(),
            ),
            other => other.into(),
        })?;
        let now = Utc::now();
        let mut next = b.clone();
        if lifecycle::apply(&mut next, Trigger::Approve, now).is_err() {
            return Err(ElevationError::Forbidden(format!(
                "this binding is {}, not pending approval",
                b.status.as_str()
            )));
        }
        if b.approval_deadline.is_some_and(|d| d <= now) {
            return Err(ElevationError::Forbidden(
                "the request expired before approval; ask again".into(),
            ));
        }
        next.approved_by = Some(caller.subject.clone());
        next.approved_at = Some(now);
        next.expires_at = Some(policy::expires(
            now,
            Duration::from_secs(b.duration_seconds),
        ));
        let origin = Origin::person(&caller.subject);
        let approved = Approved {
            binding: id.clone(),
            from: b.status,
            status: next.status,
            approved_by: caller.subject.clone(),
            subject: b.subject.clone(),
            expires_at: next.expires_at,
        };
        let event = Event::new(&origin, &b.incident, Some(id), &approved);
        let due = Schedule::At(policy::expires(now, GRANT_DEADLINE));
        match self
            .bindings
            .update(&current, &next, due, &[event], true, now)
            .await?
        {
            UpdateOutcome::Ok => self.grant_detached(id.clone(), origin).await,
            UpdateOutcome::IncidentNotOpen => Err(Denial::IncidentNotOpen.into()),
            UpdateOutcome::Conflict => Err(ElevationError::Forbidden(
                "the binding changed meanwhile; read it again".into(),
            )),
        }
    }
}
