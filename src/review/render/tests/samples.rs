//! Hand-made reviews: a full one, one with hostile text everywhere, and an empty one.

use chrono::TimeZone;

use crate::review::model::{
    BindingReview, ChainStatus, Durations, IncidentSummary, Phase, Review, ReviewEvent, Window,
};
use crate::review::render::*;

pub(super) const LINK: &str = "https://acme.pagerduty.com/incidents/Q2K7PXM";
pub(super) const FORMULA: &str = "=cmd|' /C calc'!A0";

pub(super) fn t(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap() + chrono::Duration::milliseconds(ms.into())
}

pub(super) fn event(
    seq: u64,
    at: DateTime<Utc>,
    kind: &str,
    actor: &str,
    binding: &str,
    summary: &str,
) -> ReviewEvent {
    ReviewEvent {
        seq: Some(seq),
        shard: 3,
        id: format!("{}-0", at.timestamp_millis()),
        at: rfc(at),
        kind: kind.into(),
        actor: actor.into(),
        source: "breakglass".into(),
        binding: binding.into(),
        summary: summary.into(),
        since_open_ms: Some(span_ms(t(9, 0, 0, 0), at)),
        hash: Some(format!("{seq:064x}")),
        data: serde_json::json!({ "seq": seq }),
    }
}

pub(super) fn sample() -> Review {
    let opened = t(9, 0, 0, 0);
    let acked = t(9, 4, 12, 0);
    let resolved = t(10, 31, 45, 0);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DescribeDBInstances","logs:GetLogEvents"],"Resource":"*"}]}"#;
    let auto = BindingReview {
        id: "bnd_01HXA1".into(),
        role: "prod-readonly".into(),
        account: "prod".into(),
        requester: "alice@example.com".into(),
        principal_arn: "arn:aws:iam::111122223333:role/sso/alice".into(),
        reason: FORMULA.into(),
        approval: "auto".into(),
        approved_by: None,
        policy: Some(policy.into()),
        managed_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        permissions_boundary: Some("arn:aws:iam::111122223333:policy/breakglass-boundary".into()),
        role_name: "breakglass-bnd_01HXA1".into(),
        role_arn: Some("arn:aws:iam::111122223333:role/breakglass/breakglass-bnd_01HXA1".into()),
        status: "revoked".into(),
        requested_at: t(9, 6, 0, 0),
        approved_at: Some(t(9, 6, 0, 0)),
        granted_at: Some(t(9, 6, 3, 200)),
        expires_at: Some(t(11, 6, 3, 200)),
        revocation_started_at: Some(t(10, 31, 46, 100)),
        sessions_denied_before: Some(t(10, 31, 46, 400)),
        revoked_at: Some(t(10, 31, 52, 500)),
        end_reason: Some("incident_resolved".into()),
        ended_by: Some("pagerduty".into()),
        how: Some(
            "session-ending deny, inline policy breakglass-grant deleted, role deleted (IAM confirmed)"
                .into(),
        ),
        failed_attempts: 0,
        durations: Durations {
            request_to_grant_ms: Some(3_200),
            held_ms: Some(span_ms(t(9, 6, 3, 200), t(10, 31, 52, 500))),
            revocation_ms: Some(6_400),
            resolve_to_removed_ms: Some(7_500),
        },
    };
    let peer = BindingReview {
        id: "bnd_01HXB7".into(),
        role: "prod-db-admin".into(),
        account: "prod".into(),
        requester: "bob@example.com".into(),
        principal_arn: "arn:aws:iam::111122223333:role/sso/bob".into(),
        reason: "Failover | replica lag on orders-db".into(),
        approval: "peer".into(),
        approved_by: Some("carol@example.com".into()),
        policy: Some("not json ``` } trailing".into()),
        managed_policies: vec![],
        permissions_boundary: None,
        role_name: "breakglass-bnd_01HXB7".into(),
        role_arn: Some("arn:aws:iam::111122223333:role/breakglass/breakglass-bnd_01HXB7".into()),
        status: "revoked".into(),
        requested_at: t(9, 20, 0, 0),
        approved_at: Some(t(9, 24, 0, 0)),
        granted_at: Some(t(9, 24, 5, 0)),
        expires_at: Some(t(10, 24, 5, 0)),
        revocation_started_at: Some(t(10, 24, 5, 300)),
        sessions_denied_before: Some(t(10, 24, 5, 600)),
        revoked_at: Some(t(10, 24, 9, 0)),
        end_reason: Some("expired".into()),
        ended_by: Some("breakglass:scheduler".into()),
        how: Some("session-ending deny, role deleted (IAM confirmed)".into()),
        failed_attempts: 1,
        durations: Durations {
            request_to_grant_ms: Some(245_000),
            held_ms: Some(3_604_000),
            revocation_ms: Some(3_700),
            resolve_to_removed_ms: None,
        },
    };
    let events = vec![
        event(
            1,
            opened,
            "webhook.applied",
            "pagerduty",
            "",
            "incident.triggered: incident opened",
        ),
        event(
            2,
            acked,
            "webhook.applied",
            "pagerduty",
            "",
            "incident.acknowledged by alice@example.com",
        ),
        event(
            3,
            t(9, 6, 0, 0),
            "elevation.requested",
            "alice@example.com",
            "bnd_01HXA1",
            "prod-readonly requested, auto-approved",
        ),
        event(
            4,
            t(9, 6, 3, 200),
            "binding.granted",
            "breakglass",
            "bnd_01HXA1",
            "role created",
        ),
        event(
            5,
            t(9, 20, 0, 0),
            "elevation.requested",
            "bob@example.com",
            "bnd_01HXB7",
            "prod-db-admin requested, waiting for a peer",
        ),
        event(
            6,
            t(9, 24, 0, 0),
            "elevation.approved",
            "carol@example.com",
            "bnd_01HXB7",
            "approved",
        ),
        event(
            7,
            t(9, 24, 5, 0),
            "binding.granted",
            "breakglass",
            "bnd_01HXB7",
            "role created",
        ),
        event(
            8,
            t(10, 24, 9, 0),
            "binding.revoked",
            "breakglass:scheduler",
            "bnd_01HXB7",
            "expired; role deleted",
        ),
        event(
            9,
            resolved,
            "webhook.applied",
            "pagerduty",
            "",
            "incident.resolved",
        ),
        event(
            10,
            t(10, 31, 52, 500),
            "binding.revoked",
            "pagerduty",
            "bnd_01HXA1",
            "incident resolved; role deleted",
        ),
    ];
    Review {
        generated_at: t(12, 0, 0, 0),
        incident: IncidentSummary {
            id: "Q2K7PXM".into(),
            source: "pagerduty".into(),
            title: Some("Checkout latency above SLO".into()),
            service: Some("checkout-api".into()),
            teams: vec!["payments".into()],
            priority: Some("P1".into()),
            link: Some(LINK.into()),
            status: "resolved".into(),
            opened_at: opened,
            acknowledged_at: Some(acked),
            resolved_at: Some(resolved),
            duration_ms: Some(span_ms(opened, resolved)),
            responders: vec!["alice@example.com".into(), "bob@example.com".into()],
            former_responders: vec!["dave@example.com".into()],
        },
        lifecycle: vec![
            Phase {
                status: "open".into(),
                from: opened,
                until: Some(acked),
                kind: "incident.triggered".into(),
            },
            Phase {
                status: "acknowledged".into(),
                from: acked,
                until: Some(resolved),
                kind: "incident.acknowledged".into(),
            },
            Phase {
                status: "resolved".into(),
                from: resolved,
                until: None,
                kind: "incident.resolved".into(),
            },
        ],
        bindings: vec![auto, peer],
        events,
        chain: ChainStatus {
            sealed: 9,
            unsealed: 1,
            archived: 0,
            verify_with: "breakglass audit verify --shard 3".into(),
        },
        window: Window {
            start: opened,
            end: t(10, 31, 52, 500),
        },
    }
}

pub(super) fn hostile() -> Review {
    let mut r = sample();
    r.incident.title = Some("<script>alert(1)</script>".into());
    r.incident.service = Some("\"><img src=x onerror=alert(1)>".into());
    r.bindings[0].requester = "\"><img src=x onerror=alert(1)>".into();
    r.bindings[1].role = "'><svg onload=alert(1)>".into();
    r.events[0].summary = "</td><script>alert(2)</script>".into();
    r.chain.verify_with = "<script>x</script>".into();
    r
}

/// Markup that must come out as text wherever it is put.
pub(super) const MARKUP: &str = "<b x=\"1\" y='2'>&amp;</b>";
/// [`MARKUP`] as HTML text or a double-quoted attribute value.
pub(super) const MARKUP_ESCAPED: &str = "&lt;b x=&quot;1&quot; y='2'&gt;&amp;amp;&lt;/b&gt;";

/// The sample with every piece of text it shows set to `s`.
pub(super) fn everywhere(s: &str) -> Review {
    let mut r = sample();
    let i = &mut r.incident;
    for field in [&mut i.id, &mut i.source, &mut i.status] {
        *field = s.into();
    }
    for field in [&mut i.title, &mut i.service, &mut i.priority] {
        *field = Some(s.into());
    }
    i.link = Some(format!("https://example.com/{s}"));
    i.teams = vec![s.into()];
    i.responders = vec![s.into()];
    i.former_responders = vec![s.into()];
    for p in &mut r.lifecycle {
        p.status = s.into();
        p.kind = s.into();
    }
    for b in &mut r.bindings {
        for field in [
            &mut b.id,
            &mut b.role,
            &mut b.requester,
            &mut b.principal_arn,
            &mut b.reason,
            &mut b.role_name,
            &mut b.status,
        ] {
            *field = s.into();
        }
        for field in [
            &mut b.approved_by,
            &mut b.policy,
            &mut b.permissions_boundary,
            &mut b.role_arn,
            &mut b.end_reason,
            &mut b.ended_by,
            &mut b.how,
        ] {
            *field = Some(s.into());
        }
        b.managed_policies = vec![s.into()];
    }
    for e in &mut r.events {
        for field in [
            &mut e.at,
            &mut e.kind,
            &mut e.actor,
            &mut e.binding,
            &mut e.summary,
        ] {
            *field = s.into();
        }
        e.hash = Some(s.into());
    }
    r.chain.verify_with = s.into();
    r
}

pub(super) fn empty() -> Review {
    let opened = t(9, 0, 0, 0);
    Review {
        generated_at: opened,
        incident: IncidentSummary {
            id: "OG-42".into(),
            source: "opsgenie".into(),
            title: None,
            service: None,
            teams: vec![],
            priority: None,
            link: Some("javascript:alert(1)".into()),
            status: "open".into(),
            opened_at: opened,
            acknowledged_at: None,
            resolved_at: None,
            duration_ms: Some(0),
            responders: vec![],
            former_responders: vec![],
        },
        lifecycle: vec![Phase {
            status: "open".into(),
            from: opened,
            until: None,
            kind: "Create".into(),
        }],
        bindings: vec![],
        events: vec![],
        chain: ChainStatus::default(),
        window: Window {
            start: opened,
            end: opened,
        },
    }
}
