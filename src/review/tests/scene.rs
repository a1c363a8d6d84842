//! The fixed incident, its bindings, and the helpers that write each event through its type.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::audit::Payload;
use crate::bindings::events::{Change, Granted};
use crate::bindings::{Approval, Binding, BindingId, BindingStatus as S};
use crate::elevation::events::Requested;
use crate::grants::Revoked as IamRevoked;
use crate::incidents::events::{StatusChanged, WebhookApplied};
use crate::incidents::{Incident, Source, Status};

pub(super) const INCIDENT: &str = "pagerduty:Q2K7PXM";
pub(super) const SHARD: u16 = 3;
/// Events listed for the incident that are no longer in Redis.
pub(super) const ARCHIVED: usize = 2;

/// The type of the event the review has no words for.
pub(super) const UNKNOWN: &str = "audit.note";

/// 2024-05-01, UTC.
pub(super) fn t(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap() + chrono::Duration::milliseconds(ms)
}

pub(super) fn rfc(t: DateTime<Utc>) -> String {
    crate::audit::rfc3339(t)
}

pub(super) fn incident() -> Incident {
    serde_json::from_value(json!({
        "id": INCIDENT,
        "source": "pagerduty",
        "status": "resolved",
        "title": "Checkout latency > SLO & \"p99\" <spikes> | 'EU'",
        "service": "checkout-api",
        "teams": ["payments", "sre"],
        "priority": "P1",
        "link": "https://acme.pagerduty.com/incidents/Q2K7PXM",
        "opened_at": rfc(t(9, 0, 0, 0)),
        "acknowledged_at": rfc(t(9, 4, 12, 0)),
        "resolved_at": rfc(t(10, 31, 45, 0)),
        "last_event_at": rfc(t(10, 31, 45, 0)),
        "updated_at": rfc(t(10, 31, 45, 600)),
        "responders": [
            {"tool_id": "PALICE1", "email": "alice@example.com", "reasons": ["assignee"]},
            {"tool_id": "PBOB002", "email": "bob@example.com", "reasons": ["responder"]},
            {"tool_id": "PERIN03", "email": "erin@example.com", "reasons": ["acknowledger"]},
            {"tool_id": "PUNKNWN", "reasons": ["notified"]}
        ],
        "former_responders": ["dave@example.com"]
    }))
    .expect("the fixed incident is a valid record")
}

/// A binding record; `fields` override the defaults of an auto-approved revoked one.
pub(super) fn binding(id: &str, role: &str, subject: &str, fields: Value) -> Binding {
    let mut record = json!({
        "id": id,
        "incident": INCIDENT,
        "role": role,
        "subject": subject,
        "principal_arn": format!("arn:aws:iam::111122223333:role/sso/{}", &subject[..subject.find('@').unwrap()]),
        "status": "revoked",
        "reason": "",
        "duration_seconds": 3600,
        "approval": "auto",
        "requested_at": null,
        "approved_by": null,
        "approved_at": null,
        "approval_deadline": null,
        "role_name": format!("breakglass-{id}"),
        "role_arn": format!("arn:aws:iam::111122223333:role/breakglass/breakglass-{id}"),
        "granted_at": null,
        "expires_at": null,
        "ended_at": null,
        "end_reason": null,
        "ended_by": null,
        "attempts": 0,
        "last_error": null
    });
    for (k, v) in fields.as_object().expect("fields are an object") {
        record[k] = v.clone();
    }
    serde_json::from_value(record).expect("the fixed binding is a valid record")
}

pub(super) const AUTO: &str = "3readonlyalice22";
pub(super) const PEER: &str = "3dbadminbob22222";
pub(super) const EXPIRED: &str = "3adminerin222222";
pub(super) const FAILED: &str = "3s3writealice222";
pub(super) const HOLDER: &str = "3logsreadalice22";

pub(super) fn bindings() -> Vec<Binding> {
    vec![
        binding(
            AUTO,
            "prod-readonly",
            "alice@example.com",
            json!({
                "reason": "=cmd|' /C calc'!A0",
                "duration_seconds": 7200,
                "requested_at": rfc(t(9, 6, 0, 0)),
                "approved_at": rfc(t(9, 6, 0, 0)),
                "granted_at": rfc(t(9, 6, 3, 200)),
                "expires_at": rfc(t(11, 6, 3, 200)),
                "ended_at": rfc(t(10, 31, 52, 500)),
                "end_reason": "incident_resolved",
                "ended_by": "pagerduty",
                "attempts": 2,
            }),
        ),
        binding(
            PEER,
            "prod-db-admin",
            "bob@example.com",
            json!({
                "reason": "Failover | replica lag on orders-db\nsee `runbook` *now* [link](x) <b>",
                "approval": "peer",
                "requested_at": rfc(t(9, 20, 0, 0)),
                "approved_by": "carol@example.com",
                "approved_at": rfc(t(9, 24, 0, 0)),
                "granted_at": rfc(t(9, 24, 5, 0)),
                "expires_at": rfc(t(10, 24, 5, 0)),
                "ended_at": rfc(t(10, 24, 9, 0)),
                "end_reason": "expired",
                "ended_by": "breakglass:scheduler",
            }),
        ),
        binding(
            EXPIRED,
            "prod-admin",
            "erin@example.com",
            json!({
                "reason": "Need to restart the payment workers",
                "approval": "peer",
                "requested_at": rfc(t(9, 30, 0, 0)),
                "approval_deadline": rfc(t(9, 45, 0, 0)),
                "role_arn": null,
                "ended_at": rfc(t(9, 45, 0, 0)),
                "end_reason": "approval_expired",
            }),
        ),
        binding(
            FAILED,
            "prod-s3-write",
            "alice@example.com",
            json!({
                "status": "failed",
                "reason": "Restore the price list & the \"EU\" catalogue",
                "requested_at": rfc(t(9, 40, 0, 0)),
                "approved_at": rfc(t(9, 40, 0, 0)),
                "role_arn": null,
                "ended_at": rfc(t(9, 40, 2, 500)),
                "end_reason": "grant_failed",
                "last_error": "AccessDenied",
            }),
        ),
        binding(
            HOLDER,
            "prod-logs-read",
            "alice@example.com",
            json!({
                "reason": "Read the checkout logs",
                "requested_at": rfc(t(9, 50, 0, 0)),
                "approved_at": rfc(t(9, 50, 0, 0)),
                "granted_at": rfc(t(9, 50, 1, 0)),
                "expires_at": rfc(t(10, 50, 1, 0)),
                "ended_at": rfc(t(10, 5, 2, 0)),
                "end_reason": "revoked_by_holder",
                "ended_by": "alice@example.com",
            }),
        ),
    ]
}

/// One audit entry as the stream holds it: its payload is what the writer's type serializes.
pub(super) struct Recorded {
    pub(super) at: DateTime<Utc>,
    pub(super) kind: &'static str,
    pub(super) actor: &'static str,
    pub(super) source: &'static str,
    pub(super) binding: &'static str,
    pub(super) data: Value,
}

/// An event written through its writer's type, by `actor`, about `binding` (or none: "").
pub(super) fn rec<P: Payload>(
    at: DateTime<Utc>,
    actor: &'static str,
    binding: &'static str,
    payload: P,
) -> Recorded {
    let source = match actor {
        "pagerduty" => "webhook:pagerduty",
        "breakglass:scheduler" => "scheduler",
        "breakglass:reconciler" => "reconciler",
        _ => "api",
    };
    Recorded {
        at,
        kind: P::KIND,
        actor,
        source,
        binding,
        data: serde_json::to_value(payload).expect("a payload serializes"),
    }
}

pub(super) fn id(binding: &str) -> BindingId {
    binding.parse().expect("a valid binding id")
}

/// A binding's change of status, with no reason, author, attempt or error yet.
pub(super) fn change(binding: &str, from: S, status: S) -> Change {
    Change {
        binding: id(binding),
        from,
        status,
        reason: None,
        by: None,
        attempts: 0,
        error: None,
    }
}

pub(super) fn applied(
    kind: &str,
    occurred: DateTime<Utc>,
    received: DateTime<Utc>,
    (before, after): (Option<Status>, Status),
    stale: bool,
) -> WebhookApplied {
    WebhookApplied {
        incident: INCIDENT.parse().expect("a valid incident id"),
        source: Source::Pagerduty,
        kind: kind.into(),
        occurred_at: occurred,
        received_at: received,
        request_id: format!("req-{}", received.timestamp_millis()),
        status_before: before,
        status_after: after,
        stale,
        responders: vec!["alice@example.com".into(), "bob@example.com".into()],
        removed_responders: vec![],
        dedupe_keys: vec![format!("pagerduty:{kind}")],
    }
}

pub(super) fn changed(
    from: Option<Status>,
    to: Status,
    kind: &str,
    occurred: DateTime<Utc>,
) -> StatusChanged {
    StatusChanged {
        from,
        to,
        kind: kind.into(),
        occurred_at: occurred,
    }
}

pub(super) fn requested(binding: &str, subject: &str, role: &str, approval: Approval) -> Requested {
    Requested {
        binding: id(binding),
        subject: subject.into(),
        role: role.into(),
        account: "default".into(),
        principal_arn: format!(
            "arn:aws:iam::111122223333:role/sso/{}",
            subject.split('@').next().unwrap()
        ),
        approval,
        duration_seconds: 3600,
        reason: String::new(),
        decision: match approval {
            Approval::Auto => "grant".into(),
            Approval::Peer => "pending_approval".into(),
        },
    }
}

pub(super) fn granted(binding: &str, expires: DateTime<Utc>) -> Granted {
    Granted {
        binding: id(binding),
        from: S::Granting,
        status: S::Active,
        role_name: format!("breakglass-{binding}"),
        role_arn: format!("arn:aws:iam::111122223333:role/breakglass/breakglass-{binding}"),
        policy: "{}".into(),
        managed_policies: vec![],
        permissions_boundary: None,
        expires_at: Some(expires),
        iam_ms: 2_900,
    }
}

/// What IAM did to remove a role.
pub(super) fn iam(
    sessions_denied: Option<DateTime<Utc>>,
    deleted: Option<DateTime<Utc>>,
) -> IamRevoked {
    IamRevoked {
        sessions_denied_before: sessions_denied,
        inline_policies_deleted: vec![],
        managed_policies_detached: vec![],
        role_deleted_at: deleted,
        already_gone: false,
    }
}
