//! Settling a binding: move it by a lifecycle trigger with a compare-and-set, recording the
//! typed audit event of the change in the same atomic step; retried until the compare-and-set
//! holds. Both elevation (a grant that failed or lost its race) and revocation (expiry, the
//! revocation steps) end bindings through here.

use chrono::{DateTime, Utc};

use super::events::{ApprovalExpired, Change, GrantFailed, RevokeFailed, Revoked, Revoking};
use super::lifecycle::{self, Trigger};
use super::model::{Binding, BindingId};
use super::store::{BindingStore, Schedule, UpdateOutcome};
use crate::audit::{Event, Origin};
use crate::store::StoreError;

/// Attempts at a compare-and-set before giving up with 503.
pub const MAX_ATTEMPTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("no binding `{0}`")]
    NotFound(BindingId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The triggers [`BindingStore::settle`] takes: those on the way to a binding's end. Approval
/// and activation have their own compare-and-set, with elevation's checks and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Revoke(crate::bindings::EndReason),
    GrantFailed,
    ApprovalLapsed { deadline: DateTime<Utc> },
    Expire { expires_at: DateTime<Utc> },
    RoleRemoved,
    RevokeFailed,
}

impl From<Ending> for Trigger {
    fn from(e: Ending) -> Trigger {
        match e {
            Ending::Revoke(reason) => Trigger::Revoke(reason),
            Ending::GrantFailed => Trigger::GrantFailed,
            Ending::ApprovalLapsed { deadline } => Trigger::ApprovalLapsed { deadline },
            Ending::Expire { expires_at } => Trigger::Expire { expires_at },
            Ending::RoleRemoved => Trigger::RoleRemoved,
            Ending::RevokeFailed => Trigger::RevokeFailed,
        }
    }
}

/// What an IAM step adds to the evidence of a change.
#[derive(Debug, Clone, Default)]
pub enum Evidence {
    #[default]
    None,
    /// What the revocation did in IAM, step by step.
    Iam(crate::grants::Revoked),
    /// When the next revocation attempt comes.
    RetryInMs(u64),
}

impl BindingStore {
    /// Move binding `id` by `trigger`, after `edit` (which sets the fields the trigger does not:
    /// who ended it, attempts, the last error), and put it at `schedule`. A trigger the
    /// lifecycle refuses writes nothing: the binding is returned as it is.
    pub async fn settle(
        &self,
        id: &BindingId,
        origin: &Origin,
        ending: Ending,
        evidence: Evidence,
        schedule: impl Fn(DateTime<Utc>) -> Schedule,
        edit: impl Fn(&mut Binding),
    ) -> Result<Binding, BindingError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .get(id)
                .await?
                .ok_or_else(|| BindingError::NotFound(id.clone()))?;
            let now = Utc::now();
            let mut next = current.binding.clone();
            if let Err(refused) = lifecycle::apply(&mut next, ending.into(), now) {
                tracing::debug!(binding = %id, %refused, "nothing to settle");
                return Ok(current.binding);
            }
            edit(&mut next);
            let change = Change {
                binding: id.clone(),
                from: current.binding.status,
                status: next.status,
                reason: next.end_reason,
                by: next.ended_by.clone(),
                attempts: next.attempts,
                error: next.last_error.clone(),
            };
            let event = record(origin, &next, ending, change, evidence.clone());
            match self
                .update(&current, &next, schedule(now), &[event], false, now)
                .await?
            {
                UpdateOutcome::Ok => return Ok(next),
                UpdateOutcome::Conflict | UpdateOutcome::IncidentNotOpen => continue,
            }
        }
        Err(StoreError::Contended(id.to_string()).into())
    }

    /// Put binding `id` back in the schedule at `at`, changing nothing else and recording
    /// nothing (a lease moved an entry that is not due yet).
    pub async fn reschedule(&self, id: &BindingId, at: DateTime<Utc>) -> Result<(), BindingError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .get(id)
                .await?
                .ok_or_else(|| BindingError::NotFound(id.clone()))?;
            let next = current.binding.clone();
            match self
                .update(&current, &next, Schedule::At(at), &[], false, Utc::now())
                .await?
            {
                UpdateOutcome::Ok => return Ok(()),
                UpdateOutcome::Conflict | UpdateOutcome::IncidentNotOpen => continue,
            }
        }
        Err(StoreError::Contended(id.to_string()).into())
    }
}

/// The typed event a trigger records.
fn record(
    origin: &Origin,
    b: &Binding,
    ending: Ending,
    change: Change,
    evidence: Evidence,
) -> Event {
    let (incident, id) = (&b.incident, Some(&b.id));
    match ending {
        Ending::GrantFailed => Event::new(origin, incident, id, &GrantFailed { change }),
        Ending::ApprovalLapsed { .. } => {
            Event::new(origin, incident, id, &ApprovalExpired { change })
        }
        Ending::RoleRemoved => {
            let iam = match evidence {
                Evidence::Iam(steps) => Some(steps),
                _ => None,
            };
            Event::new(origin, incident, id, &Revoked { change, iam })
        }
        Ending::RevokeFailed => {
            let retry_in_ms = match evidence {
                Evidence::RetryInMs(ms) => Some(ms),
                _ => None,
            };
            Event::new(
                origin,
                incident,
                id,
                &RevokeFailed {
                    change,
                    retry_in_ms,
                },
            )
        }
        Ending::Revoke(_) | Ending::Expire { .. } => {
            Event::new(origin, incident, id, &Revoking { change })
        }
    }
}
