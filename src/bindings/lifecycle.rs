//! The binding life cycle: one table of which trigger moves a binding from which status to
//! which. Every status change goes through [`next`]: the Rust paths through [`apply`], and the
//! Lua scripts through the status lists derived from it here ([`revocable`]), which their
//! callers pass in. A path the table does not name is refused and changes nothing.
//!
//! ```text
//! pending_approval --approve--> granting --granted--> active
//!        |                         |  \--grant failed--> failed
//!        |--approval lapsed--> revoked                    |
//!        \---------revoke(reason)----+------expire--------/
//!                                    v
//!                                revoking --role removed--> revoked
//!                                 ^  \--revoke failed--/ (back to revoking)
//! ```
//!
//! What it rules out: nothing reaches `active` once it was `revoking`; a binding that held (or
//! may have held) a role reaches `revoked` only through `revoking`, whose steps remove the
//! role; `failed` only from `granting`, whose rollback removed what it made.

use chrono::{DateTime, Utc};

use super::model::{Binding, BindingStatus, EndReason};

/// What happened to a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Another responder of the incident approved the pending request.
    Approve,
    /// IAM made the role, and the incident was still open when it was recorded.
    Granted,
    /// IAM could not make the role; the grant rolled back what it had made.
    GrantFailed,
    /// Access must end, for this reason: the revocation steps start.
    Revoke(EndReason),
    /// A pending request's approval deadline, `deadline`, came.
    ApprovalLapsed { deadline: DateTime<Utc> },
    /// An active binding's expiry, `expires_at`, came.
    Expire { expires_at: DateTime<Utc> },
    /// The revocation steps finished: the role is gone from IAM.
    RoleRemoved,
    /// A revocation step failed; it is tried again.
    RevokeFailed,
}

impl Trigger {
    /// The end reason the trigger gives a binding, if it gives one.
    fn end_reason(self) -> Option<EndReason> {
        match self {
            Trigger::Revoke(reason) => Some(reason),
            Trigger::GrantFailed => Some(EndReason::GrantFailed),
            Trigger::ApprovalLapsed { .. } => Some(EndReason::ApprovalExpired),
            Trigger::Expire { .. } => Some(EndReason::Expired),
            Trigger::Approve | Trigger::Granted | Trigger::RoleRemoved | Trigger::RevokeFailed => {
                None
            }
        }
    }
}

/// A trigger the table does not allow from a status (or not yet, for a deadline in the future).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {} binding does not move on {trigger:?}", .from.as_str())]
pub struct Refused {
    pub from: BindingStatus,
    pub trigger: Trigger,
}

/// The status a new binding starts in: `granting` when policy grants at once, else
/// `pending_approval`.
pub fn initial(needs_approval: bool) -> BindingStatus {
    if needs_approval {
        BindingStatus::PendingApproval
    } else {
        BindingStatus::Granting
    }
}

/// The table: where `trigger` moves a binding in status `from`, as of `now`.
pub fn next(
    from: BindingStatus,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> Result<BindingStatus, Refused> {
    use BindingStatus::*;
    let to = match (from, trigger) {
        (PendingApproval, Trigger::Approve) => Granting,
        (PendingApproval, Trigger::ApprovalLapsed { deadline }) if deadline <= now => Revoked,
        (Granting, Trigger::Granted) => Active,
        (Granting, Trigger::GrantFailed) => Failed,
        (Active, Trigger::Expire { expires_at }) if expires_at <= now => Revoking,
        (PendingApproval | Granting | Active, Trigger::Revoke(_)) => Revoking,
        (Revoking | Revoked, Trigger::RoleRemoved) => Revoked,
        // A role the grant made after the binding was marked revoked is still there, and a
        // failed attempt leaves the binding revoking: the worker tries again either way.
        (Revoking | Revoked, Trigger::RevokeFailed) => Revoking,
        _ => return Err(Refused { from, trigger }),
    };
    Ok(to)
}

/// Move `binding` by `trigger`: its status from [`next`], the end reason the trigger gives, and
/// the end time once it stops being live. Refused triggers leave it untouched.
pub fn apply(binding: &mut Binding, trigger: Trigger, now: DateTime<Utc>) -> Result<(), Refused> {
    let to = next(binding.status, trigger, now)?;
    binding.status = to;
    if let Some(reason) = trigger.end_reason() {
        binding.end_reason = Some(reason);
    }
    if !to.is_live() && binding.ended_at.is_none() {
        binding.ended_at = Some(now);
    }
    Ok(())
}

/// Put the status and end reason that scripts keep in their own hash fields over a binding
/// read from its stored JSON: those fields are authoritative (the incident's resolve changes
/// them, through [`revocable`], without touching the JSON).
pub fn overlay(binding: &mut Binding, status: Option<BindingStatus>, reason: Option<EndReason>) {
    if let Some(status) = status {
        binding.status = status;
    }
    if let Some(reason) = reason {
        binding.end_reason = Some(reason);
    }
}

/// The statuses a revocation moves to `revoking`: those the incident's resolve (`apply.lua`)
/// revokes, and those in which a person holds a binding (`create.lua` returns it rather than
/// making a second one).
pub fn revocable() -> Vec<BindingStatus> {
    BindingStatus::ALL
        .into_iter()
        .filter(|&s| {
            next(
                s,
                Trigger::Revoke(EndReason::IncidentResolved),
                DateTime::<Utc>::MIN_UTC,
            ) == Ok(BindingStatus::Revoking)
        })
        .collect()
}

/// The revocation rule as the scripts take it: `{"from": [`[`revocable`]`], "to": "revoking"}`.
pub fn revocation_json() -> String {
    let rule = serde_json::json!({
        "from": revocable(),
        "to": BindingStatus::Revoking,
    });
    rule.to_string()
}

#[cfg(test)]
mod tests;
