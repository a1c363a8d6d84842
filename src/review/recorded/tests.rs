//! One event of every kind the review knows, written through its writer's type, read back by the
//! review and rendered in every format.

use chrono::TimeZone;

use super::*;
use crate::audit::export::StreamId;
use crate::bindings::events::Change;
use crate::bindings::{Approval, Binding, BindingId, BindingStatus, EndReason};
use crate::incidents::state::{self, Directory};
use crate::incidents::{IncidentEvent, IncidentId, Source, Status, ToolUser, Transition};
use crate::review::{build, render};
use BindingStatus as S;

struct Nobody;

impl Directory for Nobody {
    fn email_for(&self, _: Source, _: &ToolUser) -> Option<String> {
        None
    }
}

fn at(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 2, 0, 0).unwrap() + chrono::Duration::seconds(s)
}

fn incident() -> IncidentId {
    "pagerduty:PREVIEW".parse().unwrap()
}

fn change(binding: &BindingId, from: BindingStatus, status: BindingStatus) -> Change {
    Change {
        binding: binding.clone(),
        from,
        status,
        reason: Some(EndReason::IncidentResolved),
        by: None,
        attempts: 1,
        error: Some("Throttling: slow down".into()),
    }
}

fn iam() -> crate::grants::Revoked {
    crate::grants::Revoked {
        sessions_denied_before: Some(at(60)),
        inline_policies_deleted: vec!["breakglass".into()],
        managed_policies_detached: vec![],
        role_deleted_at: Some(at(61)),
        already_gone: false,
    }
}

/// An entry as the trail stores it: the payload serialized by its type, the kind its constant.
fn entry<P: Payload>(n: u64, binding: Option<&BindingId>, payload: &P) -> Entry {
    Entry {
        id: format!("{}-0", 1_800_000_000_000 + n),
        shard: incident().shard(),
        seq: Some(n),
        kind: P::KIND.into(),
        at: crate::audit::rfc3339(at(n as i64)),
        actor: "alice@example.com".into(),
        source: "api".into(),
        incident: incident().to_string(),
        binding: binding.map(|b| b.to_string()).unwrap_or_default(),
        data: serde_json::to_value(payload).unwrap(),
        prev_hash: None,
        hash: None,
        sid: StreamId {
            ms: 1_800_000_000_000 + n,
            seq: 0,
        },
    }
}

fn every_kind(b: &BindingId) -> Vec<Entry> {
    let id = incident();
    vec![
        entry(
            1,
            None,
            &crate::incidents::events::WebhookApplied {
                incident: id.clone(),
                source: Source::Pagerduty,
                kind: "incident.triggered".into(),
                occurred_at: at(1),
                received_at: at(1),
                request_id: "req-1".into(),
                status_before: None,
                status_after: Status::Open,
                stale: false,
                responders: vec!["alice@example.com".into()],
                removed_responders: vec![],
                dedupe_keys: vec!["pagerduty:E1".into()],
            },
        ),
        entry(
            2,
            None,
            &StatusChanged {
                from: None,
                to: Status::Open,
                kind: "incident.triggered".into(),
                occurred_at: at(1),
            },
        ),
        entry(
            3,
            None,
            &RespondersChanged {
                added: vec!["alice@example.com".into()],
                removed: vec!["bob@example.com".into()],
                kind: "incident.reassigned".into(),
                occurred_at: at(3),
            },
        ),
        entry(
            4,
            None,
            &Denied {
                role: "prod-admin".into(),
                rule: "role_not_allowed".into(),
                message: "not for this service".into(),
                duration: "30m".into(),
                reason: Some("fix it".into()),
                account: None,
            },
        ),
        entry(
            5,
            Some(b),
            &Requested {
                binding: b.clone(),
                subject: "alice@example.com".into(),
                role: "prod-db-read".into(),
                account: "default".into(),
                principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
                approval: Approval::Peer,
                duration_seconds: 1800,
                reason: "checkout is down".into(),
                decision: "pending_approval".into(),
            },
        ),
        entry(
            6,
            Some(b),
            &ApprovalRefused {
                binding: b.clone(),
                rule: "forbidden".into(),
                message: "you cannot approve your own request".into(),
            },
        ),
        entry(
            7,
            Some(b),
            &Approved {
                binding: b.clone(),
                from: S::PendingApproval,
                status: S::Granting,
                approved_by: "bob@example.com".into(),
                subject: "alice@example.com".into(),
                expires_at: Some(at(1807)),
            },
        ),
        entry(
            8,
            Some(b),
            &GrantFailed {
                change: change(b, S::Granting, S::Failed),
            },
        ),
        entry(
            9,
            Some(b),
            &Granted {
                binding: b.clone(),
                from: S::Granting,
                status: S::Active,
                role_name: "breakglass-x".into(),
                role_arn: "arn:aws:iam::123456789012:role/breakglass/breakglass-x".into(),
                policy: "{}".into(),
                managed_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                permissions_boundary: None,
                expires_at: Some(at(1807)),
                iam_ms: 12,
            },
        ),
        entry(
            10,
            Some(b),
            &Revoking {
                change: change(b, S::Active, S::Revoking),
            },
        ),
        entry(
            11,
            Some(b),
            &RevokeFailed {
                change: change(b, S::Revoking, S::Revoking),
                retry_in_ms: Some(500),
            },
        ),
        entry(
            60,
            Some(b),
            &Revoked {
                change: change(b, S::Revoking, S::Revoked),
                iam: Some(iam()),
            },
        ),
        entry(
            62,
            Some(b),
            &ApprovalExpired {
                change: change(b, S::PendingApproval, S::Revoked),
            },
        ),
        entry(
            63,
            Some(b),
            &RoleRemoved {
                role_name: "breakglass-y".into(),
                account: "default".into(),
                reason: "no_binding".into(),
                tags: [("breakglass:binding".to_owned(), b.to_string())].into(),
                binding_status: Some(S::Revoked),
                iam: iam(),
            },
        ),
        entry(
            64,
            Some(b),
            &Requeued {
                binding: b.clone(),
                why: "revoking but absent from the schedule".into(),
            },
        ),
    ]
}

#[test]
fn every_kind_decodes_into_its_writers_type_and_has_words() {
    let b = BindingId::new(&incident());
    let events = every_kind(&b);
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let mut known = KINDS.to_vec();
    kinds.sort_unstable();
    known.sort_unstable();
    assert_eq!(kinds, known, "one sample of every kind");
    for e in &events {
        assert!(
            !matches!(Recorded::decode(e), Recorded::Other),
            "{} did not decode",
            e.kind
        );
        let words = summary(e);
        assert_ne!(words, e.kind, "{} has no words", e.kind);
    }
}

#[test]
fn an_event_the_review_does_not_know_or_cannot_read_is_shown_by_its_name() {
    let b = BindingId::new(&incident());
    let mut unknown = every_kind(&b).remove(0);
    unknown.kind = "audit.archived".into();
    assert!(matches!(Recorded::decode(&unknown), Recorded::Other));
    assert_eq!(summary(&unknown), "audit.archived");
    // A payload with a field of the wrong type is not half-read.
    let mut bent = every_kind(&b).remove(1);
    bent.data["to"] = serde_json::json!(42);
    assert!(matches!(Recorded::decode(&bent), Recorded::Other));
}

#[test]
fn the_lua_written_revoking_event_decodes() {
    // apply.lua writes {binding, from, status, reason} and nothing else.
    let b = BindingId::new(&incident());
    let mut e = entry(
        10,
        Some(&b),
        &Revoking {
            change: change(&b, S::Active, S::Revoking),
        },
    );
    e.data = serde_json::json!({"binding": b.to_string(), "from": "active",
        "status": "revoking", "reason": "incident_resolved"});
    assert_eq!(summary(&e), "revocation started: incident_resolved");
}

#[test]
fn a_review_of_every_kind_renders_in_every_format() {
    let b = BindingId::new(&incident());
    let mut opened = IncidentEvent::new(incident(), "incident.triggered", at(0), Transition::Opens);
    opened.status = Some(Status::Open);
    let incident_record = state::apply(None, &opened, &Nobody, at(0)).incident;
    let binding = Binding {
        id: b.clone(),
        incident: incident(),
        role: "prod-db-read".into(),
        account: "default".into(),
        subject: "alice@example.com".into(),
        principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
        status: BindingStatus::Revoked,
        reason: "checkout is down".into(),
        duration_seconds: 1800,
        approval: Approval::Peer,
        requested_at: at(5),
        approved_by: Some("bob@example.com".into()),
        approved_at: Some(at(7)),
        approval_deadline: None,
        role_name: "breakglass-x".into(),
        role_arn: Some("arn:aws:iam::123456789012:role/breakglass/breakglass-x".into()),
        granted_at: Some(at(9)),
        expires_at: Some(at(1807)),
        ended_at: Some(at(61)),
        end_reason: Some(EndReason::IncidentResolved),
        ended_by: None,
        attempts: 1,
        last_error: None,
    };
    let events = every_kind(&b);
    let review = build::build(&incident_record, &[binding], &events, 0, at(100));
    assert_eq!(review.events.len(), KINDS.len());
    let reviewed = &review.bindings[0];
    assert_eq!(reviewed.failed_attempts, 1);
    assert_eq!(reviewed.revoked_at, Some(at(61)));
    assert_eq!(
        reviewed.managed_policies,
        ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
    assert_eq!(reviewed.revocation_started_at, Some(at(10)));
    let json = serde_json::to_string(&review).unwrap();
    let csv = render::csv(&review);
    let md = render::markdown(&review);
    let html = render::html(&review);
    for e in &review.events {
        for (format, text) in [("json", &json), ("csv", &csv), ("md", &md)] {
            assert!(text.contains(e.kind.as_str()), "{format} lacks {}", e.kind);
        }
        assert!(html.contains(e.kind.as_str()), "html lacks {}", e.kind);
    }
}
