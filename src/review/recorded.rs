//! The review's typed view of an audit event: every event kind the review knows, decoded into
//! the very type its writer filled. A kind the review does not know (or a payload that does not
//! decode, from a trail older than its type) is [`Recorded::Other`] and shown by its name.

use chrono::{DateTime, Utc};

use crate::audit::export::Entry;
use crate::audit::Payload;
use crate::bindings::events::{
    ApprovalExpired, GrantFailed, Granted, RevokeFailed, Revoked, Revoking,
};
use crate::elevation::events::{ApprovalRefused, Approved, Denied, Requested};
use crate::incidents::events::{RespondersChanged, StatusChanged, WebhookApplied};
use crate::revocation::events::{Requeued, RoleRemoved};

/// One audit event, typed.
#[derive(Debug, Clone)]
pub enum Recorded {
    WebhookApplied(WebhookApplied),
    StatusChanged(StatusChanged),
    RespondersChanged(RespondersChanged),
    Requested(Requested),
    Denied(Denied),
    Approved(Approved),
    ApprovalRefused(ApprovalRefused),
    Granted(Granted),
    GrantFailed(GrantFailed),
    Revoking(Revoking),
    RevokeFailed(RevokeFailed),
    Revoked(Revoked),
    ApprovalExpired(ApprovalExpired),
    RoleRemoved(RoleRemoved),
    Requeued(Requeued),
    /// `audit.archived`, and anything else the review has no words for.
    Other,
}

/// Every kind [`Recorded`] decodes (the review's test renders one of each).
pub const KINDS: [&str; 15] = [
    WebhookApplied::KIND,
    StatusChanged::KIND,
    RespondersChanged::KIND,
    Requested::KIND,
    Denied::KIND,
    Approved::KIND,
    ApprovalRefused::KIND,
    Granted::KIND,
    GrantFailed::KIND,
    Revoking::KIND,
    RevokeFailed::KIND,
    Revoked::KIND,
    ApprovalExpired::KIND,
    RoleRemoved::KIND,
    Requeued::KIND,
];

impl Recorded {
    pub fn decode(e: &Entry) -> Self {
        fn as_<P: Payload>(e: &Entry, wrap: fn(P) -> Recorded) -> Option<Recorded> {
            e.decode::<P>().map(wrap)
        }
        None.or_else(|| as_(e, Recorded::WebhookApplied))
            .or_else(|| as_(e, Recorded::StatusChanged))
            .or_else(|| as_(e, Recorded::RespondersChanged))
            .or_else(|| as_(e, Recorded::Requested))
            .or_else(|| as_(e, Recorded::Denied))
            .or_else(|| as_(e, Recorded::Approved))
            .or_else(|| as_(e, Recorded::ApprovalRefused))
            .or_else(|| as_(e, Recorded::Granted))
            .or_else(|| as_(e, Recorded::GrantFailed))
            .or_else(|| as_(e, Recorded::Revoking))
            .or_else(|| as_(e, Recorded::RevokeFailed))
            .or_else(|| as_(e, Recorded::Revoked))
            .or_else(|| as_(e, Recorded::ApprovalExpired))
            .or_else(|| as_(e, Recorded::RoleRemoved))
            .or_else(|| as_(e, Recorded::Requeued))
            .unwrap_or(Recorded::Other)
    }
}

/// A time to the millisecond, as the trail writes them.
pub fn ms_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(crate::audit::rfc3339)
}

/// The IAM steps of a revocation, in words.
pub fn how(iam: &crate::grants::Revoked) -> String {
    if iam.already_gone {
        return "the role was already gone from IAM".into();
    }
    let mut steps = Vec::new();
    if let Some(t) = ms_text(iam.sessions_denied_before) {
        steps.push(format!("sessions issued before {t} denied"));
    }
    if !iam.inline_policies_deleted.is_empty() {
        steps.push(format!(
            "inline policy {} deleted",
            iam.inline_policies_deleted.join(", ")
        ));
    }
    if !iam.managed_policies_detached.is_empty() {
        steps.push(format!(
            "managed policy {} detached",
            iam.managed_policies_detached.join(", ")
        ));
    }
    steps.push(match ms_text(iam.role_deleted_at) {
        Some(t) => format!("role deleted at {t} (IAM confirmed)"),
        None => "role deleted".into(),
    });
    steps.join("; ")
}

/// One line per event, for tables.
pub fn summary(e: &Entry) -> String {
    let opt = |v: &Option<String>| v.as_deref().map(|x| format!(": {x}")).unwrap_or_default();
    match Recorded::decode(e) {
        Recorded::WebhookApplied(d) => format!(
            "{} {} applied ({} → {}){}",
            e.actor,
            d.kind,
            d.status_before.map_or("new", |s| s.as_str()),
            d.status_after.as_str(),
            if d.stale {
                ", stale: filled in blanks only"
            } else {
                ""
            }
        ),
        Recorded::StatusChanged(d) => format!(
            "status {} → {}",
            d.from.map_or("new", |s| s.as_str()),
            d.to.as_str()
        ),
        Recorded::RespondersChanged(d) => {
            let mut all: Vec<String> = d.added.iter().map(|x| format!("+{x}")).collect();
            all.extend(d.removed.iter().map(|x| format!("−{x}")));
            format!("responders {}", all.join(", "))
        }
        Recorded::Requested(d) => format!(
            "{} asked for {} for {}s ({}): {}",
            d.subject, d.role, d.duration_seconds, d.decision, d.reason
        ),
        Recorded::Denied(d) => {
            format!("{} refused {}: {} ({})", e.actor, d.role, d.rule, d.message)
        }
        Recorded::Approved(d) => format!("approved by {} for {}", d.approved_by, d.subject),
        Recorded::ApprovalRefused(d) => format!("approval by {} refused: {}", e.actor, d.rule),
        Recorded::Granted(d) => format!(
            "role {} created, expires {}",
            d.role_arn,
            ms_text(d.expires_at).unwrap_or_else(|| "?".into())
        ),
        Recorded::GrantFailed(d) => format!("grant failed and rolled back{}", opt(&d.change.error)),
        Recorded::Revoking(d) => format!(
            "revocation started: {}",
            d.change.reason.map_or("?", |r| r.as_str())
        ),
        Recorded::RevokeFailed(d) => format!(
            "revocation attempt {} failed{}",
            d.change.attempts,
            opt(&d.change.error)
        ),
        Recorded::Revoked(d) => match &d.iam {
            Some(iam) => how(iam),
            None => "revoked".into(),
        },
        Recorded::ApprovalExpired(_) => "request expired before anyone approved it".into(),
        Recorded::RoleRemoved(d) => {
            format!("reconciler removed role {} ({})", d.role_name, d.reason)
        }
        Recorded::Requeued(_) => "reconciler re-queued a stuck revocation".into(),
        Recorded::Other => e.kind.clone(),
    }
}

#[cfg(test)]
mod tests;
