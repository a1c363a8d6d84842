//! The post-incident review: everything a reviewer needs about one incident, built from its
//! record, its bindings and its audit events ([`super::build`]), rendered by [`super::render`].
//!
//! Times are UTC. Durations are milliseconds (`*_ms`), `None` where the span has not ended or
//! never began.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The whole review.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub generated_at: DateTime<Utc>,
    pub incident: IncidentSummary,
    /// The incident's statuses over time, as its tool reported them (provider times).
    pub lifecycle: Vec<Phase>,
    /// Every binding of the incident, oldest request first.
    pub bindings: Vec<BindingReview>,
    /// Every audit event of the incident, in the order they were recorded.
    pub events: Vec<ReviewEvent>,
    pub chain: ChainStatus,
    /// The time axis of the timeline: from the earliest to the latest time in the review.
    pub window: Window,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentSummary {
    pub id: String,
    /// `pagerduty`, `opsgenie`, `grafana-oncall`, `grafana-incident`.
    pub source: String,
    pub title: Option<String>,
    pub service: Option<String>,
    pub teams: Vec<String>,
    pub priority: Option<String>,
    pub link: Option<String>,
    /// `open`, `acknowledged`, `resolved`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// From opened to resolved (or to the review, while open).
    pub duration_ms: Option<i64>,
    /// Current responders (email, else the tool's id).
    pub responders: Vec<String>,
    /// People who were responders once and no longer are.
    pub former_responders: Vec<String>,
}

/// One stretch of the incident in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub status: String,
    pub from: DateTime<Utc>,
    /// `None` while it lasts (the last phase of an incident that is not resolved).
    pub until: Option<DateTime<Utc>>,
    /// The provider's event name that started it (`incident.triggered`, `Close`, ...).
    pub kind: String,
}

/// One binding, from request to IAM-confirmed removal.
#[derive(Debug, Clone, Serialize)]
pub struct BindingReview {
    pub id: String,
    pub role: String,
    /// The account the role was granted in, by its catalogue name.
    pub account: String,
    /// The requester's email.
    pub requester: String,
    pub principal_arn: String,
    pub reason: String,
    /// `auto` or `peer`.
    pub approval: String,
    pub approved_by: Option<String>,
    /// The role's policy document as granted (JSON text).
    pub policy: Option<String>,
    pub managed_policies: Vec<String>,
    pub permissions_boundary: Option<String>,
    pub role_name: String,
    pub role_arn: Option<String>,
    /// `pending_approval`, `granting`, `active`, `revoking`, `revoked`, `failed`.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub granted_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was decided that the binding ends (the `binding.revoking` event).
    pub revocation_started_at: Option<DateTime<Utc>>,
    /// Sessions issued before this instant were denied by the session-ending policy.
    pub sessions_denied_before: Option<DateTime<Utc>>,
    /// When IAM confirmed the role deleted (or, for a role already gone, when that was found).
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it ended: `incident_resolved`, `expired`, `revoked_by_holder`, ...
    pub end_reason: Option<String>,
    /// Who or what ended it: a person, the incident tool, `breakglass:scheduler`, ...
    pub ended_by: Option<String>,
    /// How it was removed, in words, e.g. "session-ending deny, inline policy
    /// breakglass-grant deleted, role deleted (IAM confirmed)".
    pub how: Option<String>,
    /// Revocation attempts that failed before one succeeded.
    pub failed_attempts: u32,
    pub durations: Durations,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Durations {
    /// Request to grant (includes any wait for approval).
    pub request_to_grant_ms: Option<i64>,
    /// Grant to IAM-confirmed removal: how long the access existed.
    pub held_ms: Option<i64>,
    /// Revocation decided to IAM-confirmed removal.
    pub revocation_ms: Option<i64>,
    /// Incident resolved (as breakglass heard it) to IAM-confirmed removal, for bindings that
    /// ended with the incident.
    pub resolve_to_removed_ms: Option<i64>,
}

/// One audit event.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewEvent {
    pub seq: Option<u64>,
    pub shard: u16,
    /// The stream entry id.
    pub id: String,
    pub at: String,
    /// `webhook.applied`, `elevation.requested`, `binding.revoked`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub actor: String,
    pub source: String,
    pub binding: String,
    /// One line saying what happened.
    pub summary: String,
    /// Since the incident opened.
    pub since_open_ms: Option<i64>,
    /// The chain digest, once sealed.
    pub hash: Option<String>,
    pub data: serde_json::Value,
}

/// What the review can say about the chain of its events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChainStatus {
    /// Events of this incident whose digest the sealer recorded.
    pub sealed: usize,
    /// Events not sealed yet (sealed within moments of being written).
    pub unsealed: usize,
    /// Events listed for the incident that are no longer in Redis (archived).
    pub archived: usize,
    /// How to check the whole chain.
    pub verify_with: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `3d 04h 05m`, `1h 02m 03s`, `4m 05s`, `6.789s`, `120ms`.
pub fn human_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h >= 48 {
        format!("{sign}{}d {:02}h {m:02}m", h / 24, h % 24)
    } else if h > 0 {
        format!("{sign}{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{sign}{m}m {s:02}s")
    } else {
        format!("{sign}{}.{:03}s", s, ms % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_write_them() {
        assert_eq!(human_duration(0), "0ms");
        assert_eq!(human_duration(120), "120ms");
        assert_eq!(human_duration(6_789), "6.789s");
        assert_eq!(human_duration(245_000), "4m 05s");
        assert_eq!(human_duration(3_723_000), "1h 02m 03s");
        assert_eq!(human_duration(-1500), "-1.500s");
        assert_eq!(
            human_duration(((3 * 24 + 4) * 3600 + 5 * 60) * 1000),
            "3d 04h 05m"
        );
    }
}
