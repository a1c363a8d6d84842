//! The review export of one fixed audit trail, pinned byte for byte in every format.
//!
//! The incident, its bindings, its audit entries, the chain's seals and `now` are all fixed, so
//! [`super::build`] and the renderers must give exactly the files in `tests/fixtures/review/`.
//! Each payload is written through its writer's type, and each entry is made from its stream
//! fields with [`export::entry`], as [`super::load`] reads them from Redis. The trail holds an
//! event of every type the review has words for ([`super::recorded::KINDS`]) and one it has
//! none for, and text that each format must escape (`<`, `&`, quotes, `|`, formulas, backticks).
//!
//! A change that means to alter an export rewrites the files with
//! `BREAKGLASS_BLESS=1 cargo test --lib review::tests`, and its commit says what changed and why.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::{build, render, Review};
use crate::audit::export::{self, Entry};
use crate::audit::Payload;
use crate::bindings::events::{
    ApprovalExpired, Change, GrantFailed, Granted, RevokeFailed, Revoked, Revoking,
};
use crate::bindings::{Approval, Binding, BindingId, BindingStatus as S, EndReason};
use crate::elevation::events::{ApprovalRefused, Approved, Denied, Requested};
use crate::grants::Revoked as IamRevoked;
use crate::incidents::events::{RespondersChanged, StatusChanged, WebhookApplied};
use crate::incidents::{Incident, Source, Status};
use crate::revocation::events::{Requeued, RoleRemoved};

const INCIDENT: &str = "pagerduty:Q2K7PXM";
const SHARD: u16 = 3;
/// Events listed for the incident that are no longer in Redis.
const ARCHIVED: usize = 2;

/// The type of the event the review has no words for.
const UNKNOWN: &str = "audit.note";

/// 2024-05-01, UTC.
fn t(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap() + chrono::Duration::milliseconds(ms)
}

fn rfc(t: DateTime<Utc>) -> String {
    crate::audit::rfc3339(t)
}

fn incident() -> Incident {
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
fn binding(id: &str, role: &str, subject: &str, fields: Value) -> Binding {
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

const AUTO: &str = "3readonlyalice22";
const PEER: &str = "3dbadminbob22222";
const EXPIRED: &str = "3adminerin222222";
const FAILED: &str = "3s3writealice222";
const HOLDER: &str = "3logsreadalice22";

fn bindings() -> Vec<Binding> {
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
struct Recorded {
    at: DateTime<Utc>,
    kind: &'static str,
    actor: &'static str,
    source: &'static str,
    binding: &'static str,
    data: Value,
}

/// An event written through its writer's type, by `actor`, about `binding` (or none: "").
fn rec<P: Payload>(
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

fn id(binding: &str) -> BindingId {
    binding.parse().expect("a valid binding id")
}

/// A binding's change of status, with no reason, author, attempt or error yet.
fn change(binding: &str, from: S, status: S) -> Change {
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

fn applied(
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

fn changed(from: Option<Status>, to: Status, kind: &str, occurred: DateTime<Utc>) -> StatusChanged {
    StatusChanged {
        from,
        to,
        kind: kind.into(),
        occurred_at: occurred,
    }
}

fn requested(binding: &str, subject: &str, role: &str, approval: Approval) -> Requested {
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

fn granted(binding: &str, expires: DateTime<Utc>) -> Granted {
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
fn iam(sessions_denied: Option<DateTime<Utc>>, deleted: Option<DateTime<Utc>>) -> IamRevoked {
    IamRevoked {
        sessions_denied_before: sessions_denied,
        inline_policies_deleted: vec![],
        managed_policies_detached: vec![],
        role_deleted_at: deleted,
        already_gone: false,
    }
}

fn trail() -> Vec<Recorded> {
    use Status::{Acknowledged, Open, Resolved};
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DescribeDBInstances","logs:GetLogEvents"],"Resource":"*"}]}"#;
    let revoking = |binding, reason| Revoking {
        change: Change {
            reason: Some(reason),
            ..change(binding, S::Active, S::Revoking)
        },
    };
    let revoked = |binding, reason, iam| Revoked {
        change: Change {
            reason: Some(reason),
            ..change(binding, S::Revoking, S::Revoked)
        },
        iam,
    };
    vec![
        rec(
            t(9, 0, 1, 250),
            "pagerduty",
            "",
            applied(
                "incident.triggered",
                t(9, 0, 0, 0),
                t(9, 0, 1, 250),
                (None, Open),
                false,
            ),
        ),
        rec(
            t(9, 0, 1, 250),
            "pagerduty",
            "",
            changed(None, Open, "incident.triggered", t(9, 0, 0, 0)),
        ),
        rec(
            t(9, 2, 30, 0),
            "pagerduty",
            "",
            RespondersChanged {
                added: vec!["bob@example.com".into(), "erin@example.com".into()],
                removed: vec!["dave@example.com".into()],
                kind: "incident.responder.added".into(),
                occurred_at: t(9, 2, 29, 0),
            },
        ),
        rec(
            t(9, 3, 0, 0),
            "mallory@example.com",
            "",
            Denied {
                role: "prod-admin".into(),
                rule: "not_on_call".into(),
                message: "mallory@example.com is not a responder of <pagerduty:Q2K7PXM>".into(),
                duration: json!("30m"),
                reason: Some("need \"root\" & more".into()),
                account: None,
            },
        ),
        rec(
            t(9, 4, 12, 900),
            "pagerduty",
            "",
            applied(
                "incident.acknowledged",
                t(9, 4, 12, 0),
                t(9, 4, 12, 900),
                (Some(Open), Acknowledged),
                false,
            ),
        ),
        rec(
            t(9, 4, 12, 900),
            "pagerduty",
            "",
            changed(
                Some(Open),
                Acknowledged,
                "incident.acknowledged",
                t(9, 4, 12, 0),
            ),
        ),
        rec(
            t(9, 5, 0, 0),
            "pagerduty",
            "",
            applied(
                "incident.priority_updated",
                t(9, 3, 0, 0),
                t(9, 5, 0, 0),
                (Some(Acknowledged), Acknowledged),
                true,
            ),
        ),
        rec(
            t(9, 6, 0, 0),
            "alice@example.com",
            AUTO,
            Requested {
                duration_seconds: 7200,
                reason: "=cmd|' /C calc'!A0".into(),
                ..requested(AUTO, "alice@example.com", "prod-readonly", Approval::Auto)
            },
        ),
        rec(
            t(9, 6, 3, 200),
            "alice@example.com",
            AUTO,
            Granted {
                policy: policy.into(),
                managed_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                permissions_boundary: Some(
                    "arn:aws:iam::111122223333:policy/breakglass-boundary".into(),
                ),
                ..granted(AUTO, t(11, 6, 3, 200))
            },
        ),
        rec(
            t(9, 20, 0, 0),
            "bob@example.com",
            PEER,
            Requested {
                reason: "Failover | replica lag on orders-db".into(),
                ..requested(PEER, "bob@example.com", "prod-db-admin", Approval::Peer)
            },
        ),
        rec(
            t(9, 21, 10, 0),
            "bob@example.com",
            PEER,
            ApprovalRefused {
                binding: id(PEER),
                rule: "self_approval".into(),
                message: "you cannot approve your own request".into(),
            },
        ),
        rec(
            t(9, 24, 0, 0),
            "carol@example.com",
            PEER,
            Approved {
                binding: id(PEER),
                from: S::PendingApproval,
                status: S::Granting,
                approved_by: "carol@example.com".into(),
                subject: "bob@example.com".into(),
                expires_at: Some(t(10, 24, 5, 0)),
            },
        ),
        rec(
            t(9, 24, 5, 0),
            "carol@example.com",
            PEER,
            Granted {
                policy: "not json ``` } trailing".into(),
                ..granted(PEER, t(10, 24, 5, 0))
            },
        ),
        rec(
            t(9, 30, 0, 0),
            "erin@example.com",
            EXPIRED,
            Requested {
                reason: "Need to restart the payment workers".into(),
                ..requested(EXPIRED, "erin@example.com", "prod-admin", Approval::Peer)
            },
        ),
        rec(
            t(9, 40, 0, 0),
            "alice@example.com",
            FAILED,
            Requested {
                reason: "Restore the price list & the \"EU\" catalogue".into(),
                ..requested(FAILED, "alice@example.com", "prod-s3-write", Approval::Auto)
            },
        ),
        rec(
            t(9, 40, 2, 500),
            "alice@example.com",
            FAILED,
            GrantFailed {
                change: Change {
                    reason: Some(EndReason::GrantFailed),
                    error: Some("AccessDenied: not authorized to perform iam:CreateRole".into()),
                    ..change(FAILED, S::Granting, S::Failed)
                },
            },
        ),
        rec(
            t(9, 45, 0, 0),
            "breakglass:scheduler",
            EXPIRED,
            ApprovalExpired {
                change: Change {
                    reason: Some(EndReason::ApprovalExpired),
                    ..change(EXPIRED, S::PendingApproval, S::Revoked)
                },
            },
        ),
        rec(
            t(9, 50, 0, 0),
            "alice@example.com",
            HOLDER,
            Requested {
                reason: "Read the checkout logs".into(),
                ..requested(
                    HOLDER,
                    "alice@example.com",
                    "prod-logs-read",
                    Approval::Auto,
                )
            },
        ),
        rec(
            t(9, 50, 1, 0),
            "alice@example.com",
            HOLDER,
            granted(HOLDER, t(10, 50, 1, 0)),
        ),
        rec(
            t(10, 0, 0, 0),
            "alice@example.com",
            HOLDER,
            Revoking {
                change: Change {
                    by: Some("alice@example.com".into()),
                    ..revoking(HOLDER, EndReason::RevokedByHolder).change
                },
            },
        ),
        rec(
            t(10, 5, 0, 0),
            "breakglass:reconciler",
            HOLDER,
            Requeued {
                binding: id(HOLDER),
                why: "revoking but absent from the schedule".into(),
            },
        ),
        // A removal recorded without IAM's steps.
        rec(
            t(10, 5, 2, 0),
            "breakglass:scheduler",
            HOLDER,
            revoked(HOLDER, EndReason::RevokedByHolder, None),
        ),
        rec(
            t(10, 24, 5, 300),
            "breakglass:scheduler",
            PEER,
            revoking(PEER, EndReason::Expired),
        ),
        rec(
            t(10, 24, 9, 0),
            "breakglass:scheduler",
            PEER,
            revoked(
                PEER,
                EndReason::Expired,
                Some(IamRevoked {
                    already_gone: true,
                    ..iam(None, None)
                }),
            ),
        ),
        rec(
            t(10, 31, 45, 600),
            "pagerduty",
            "",
            applied(
                "incident.resolved",
                t(10, 31, 45, 0),
                t(10, 31, 45, 600),
                (Some(Acknowledged), Resolved),
                false,
            ),
        ),
        rec(
            t(10, 31, 45, 600),
            "pagerduty",
            "",
            changed(
                Some(Acknowledged),
                Resolved,
                "incident.resolved",
                t(10, 31, 45, 0),
            ),
        ),
        rec(
            t(10, 31, 46, 100),
            "pagerduty",
            AUTO,
            revoking(AUTO, EndReason::IncidentResolved),
        ),
        rec(
            t(10, 31, 47, 0),
            "breakglass:scheduler",
            AUTO,
            RevokeFailed {
                change: Change {
                    attempts: 1,
                    error: Some("Throttling: Rate exceeded".into()),
                    ..revoking(AUTO, EndReason::IncidentResolved).change
                },
                retry_in_ms: Some(500),
            },
        ),
        rec(
            t(10, 31, 52, 500),
            "breakglass:scheduler",
            AUTO,
            revoked(
                AUTO,
                EndReason::IncidentResolved,
                Some(IamRevoked {
                    inline_policies_deleted: vec!["breakglass-grant".into()],
                    managed_policies_detached: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                    ..iam(Some(t(10, 31, 46, 400)), Some(t(10, 31, 52, 500)))
                }),
            ),
        ),
        // A type the review has no words for.
        Recorded {
            at: t(10, 35, 0, 0),
            kind: "audit.note",
            actor: "carol@example.com",
            source: "api",
            binding: "",
            data: json!({"note": "post-mortem <scheduled> & owners \"set\""}),
        },
        rec(
            t(10, 40, 0, 0),
            "breakglass:reconciler",
            "",
            RoleRemoved {
                role_name: "breakglass-3oldorphan22222".into(),
                account: "default".into(),
                reason: "no_binding".into(),
                tags: [("breakglass:incident".to_owned(), INCIDENT.to_owned())].into(),
                binding_status: None,
                iam: iam(Some(t(10, 39, 59, 0)), Some(t(10, 40, 0, 0))),
            },
        ),
    ]
}

/// The entries as `load` reads them: sequence numbers in order, the last two not sealed yet.
fn entries() -> Vec<Entry> {
    let trail = trail();
    let sealed = trail.len() - 2;
    trail
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let seq = 100 + k as u64;
            let fields = [
                ("seq", seq.to_string()),
                ("type", r.kind.to_owned()),
                ("at", rfc(r.at)),
                ("actor", r.actor.to_owned()),
                ("source", r.source.to_owned()),
                ("incident", INCIDENT.to_owned()),
                ("binding", r.binding.to_owned()),
                ("data", r.data.to_string()),
            ];
            let id = format!("{}-{k}", r.at.timestamp_millis());
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            };
            let mut entry = export::entry(SHARD, &id, field).expect("a valid stream id");
            entry.hash = (k < sealed).then(|| {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(format!("fixed seal {seq}")))
            });
            entry
        })
        .collect()
}

fn review() -> Review {
    build(
        &incident(),
        &bindings(),
        &entries(),
        ARCHIVED,
        t(12, 0, 0, 0),
    )
}

/// Compares `actual` with the golden file `name`, or rewrites the file when blessing.
fn golden(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/review", name]
        .iter()
        .collect();
    if std::env::var_os("BREAKGLASS_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BREAKGLASS_BLESS=1 writes it)", path.display()));
    if expected == actual {
        return;
    }
    // Where they part (a byte offset both share), and some text either side of it: the HTML
    // export is one long line.
    let at = expected
        .char_indices()
        .zip(actual.chars())
        .find(|((_, e), a)| e != a)
        .map_or(expected.len().min(actual.len()), |((i, _), _)| i);
    let from = expected[..at]
        .char_indices()
        .rev()
        .nth(59)
        .map_or(0, |(i, _)| i);
    let excerpt = |text: &str| text[from..].chars().take(120).collect::<String>();
    panic!(
        "{} differs from the export at line {}, byte {at}:\n  golden: {:?}\n  now:    {:?}\n\
         (BREAKGLASS_BLESS=1 rewrites the golden file if the change is intended)",
        path.display(),
        expected[..at].matches('\n').count() + 1,
        excerpt(&expected),
        excerpt(actual),
    );
}

#[test]
fn the_fixed_trail_holds_every_event_type() {
    let entries = entries();
    for kind in super::recorded::KINDS.into_iter().chain([UNKNOWN]) {
        assert!(entries.iter().any(|e| e.kind == kind), "no {kind} event");
    }
    let review = review();
    assert_eq!(review.bindings.len(), 5);
    assert_eq!(review.chain.unsealed, 2);
    assert_eq!(review.chain.archived, ARCHIVED);
    // Every payload reads back: only the type nobody knows is worded as its bare name.
    for e in &review.events {
        assert_eq!(e.summary == e.kind, e.kind == UNKNOWN, "{}", e.summary);
    }
    // A removal in IAM's steps, one that found the role gone, and one with no IAM record.
    let revoked: Vec<&str> = review
        .events
        .iter()
        .filter(|e| e.kind == "binding.revoked")
        .map(|e| e.summary.as_str())
        .collect();
    assert_eq!(revoked.len(), 3);
    assert!(revoked.contains(&"revoked"));
    assert!(revoked.contains(&"the role was already gone from IAM"));
    assert!(revoked.iter().any(|s| s.contains("(IAM confirmed)")));
}

#[test]
fn json_export_of_the_fixed_trail_is_unchanged() {
    let mut json = serde_json::to_string_pretty(&review()).unwrap();
    json.push('\n');
    golden("review.json", &json);
}

#[test]
fn csv_export_of_the_fixed_trail_is_unchanged() {
    golden("review.csv", &render::csv(&review()));
}

#[test]
fn markdown_export_of_the_fixed_trail_is_unchanged() {
    golden("review.md", &render::markdown(&review()));
}

#[test]
fn html_export_of_the_fixed_trail_is_unchanged() {
    golden("review.html", &render::html(&review()));
}
