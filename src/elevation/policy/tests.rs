use std::collections::BTreeSet;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::config::{ConfigDuration, RoleWhen};
use crate::incidents::{IncidentId, Reason, Responder, Source};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn incident(status: Status) -> Incident {
    Incident {
        id: IncidentId::new(Source::Pagerduty, "P1").unwrap(),
        source: Source::Pagerduty,
        status,
        title: Some("Checkout down".into()),
        service: Some("checkout".into()),
        teams: vec!["payments".into()],
        priority: Some("P1".into()),
        link: None,
        opened_at: now(),
        acknowledged_at: None,
        resolved_at: None,
        last_event_at: now(),
        updated_at: now(),
        responders: vec![Responder {
            tool_id: "PALICE".into(),
            email: Some("alice@example.com".into()),
            name: None,
            reasons: BTreeSet::from([Reason::Assignee]),
        }],
        former_responders: BTreeSet::from(["carol@example.com".to_string()]),
    }
}

fn role(approval: &str, when: RoleWhen) -> Role {
    Role::new(RoleEntry {
        name: "prod-db-read".into(),
        description: String::new(),
        max_duration: ConfigDuration::secs(3600),
        approval: approval.into(),
        policy: "{}".into(),
        managed_policies: vec![],
        permissions_boundary: None,
        accounts: None,
        when,
    })
}

fn decide_with(
    incident: &Incident,
    requester: &str,
    role: &Role,
    duration: serde_json::Value,
    reason: Option<&str>,
    held: usize,
) -> Decision {
    decide(&Inputs {
        incident,
        requester,
        role,
        request: Request {
            duration: &duration,
            reason,
        },
        held,
        max_held: 5,
        now: now(),
    })
}

fn simple(duration: serde_json::Value) -> Decision {
    decide_with(
        &incident(Status::Open),
        "alice@example.com",
        &role("auto", RoleWhen::default()),
        duration,
        Some("fix the replica"),
        0,
    )
}

#[test]
fn a_responder_on_an_open_incident_gets_an_auto_role_at_once() {
    let d = simple(json!("30m"));
    assert_eq!(
        d,
        Decision::Grant {
            duration: Duration::from_secs(1800),
            expires_at: now() + chrono::Duration::minutes(30)
        }
    );
    // Case does not matter for the email; acknowledged incidents are open too.
    let d = decide_with(
        &incident(Status::Acknowledged),
        "Alice@Example.com",
        &role("auto", RoleWhen::default()),
        json!(60),
        Some("x"),
        0,
    );
    assert!(matches!(d, Decision::Grant { .. }), "{d:?}");
}

#[test]
fn a_peer_role_waits_for_approval() {
    let d = decide_with(
        &incident(Status::Open),
        "alice@example.com",
        &role("peer", RoleWhen::default()),
        json!("1h"),
        Some("x"),
        0,
    );
    assert_eq!(
        d,
        Decision::NeedsApproval {
            duration: Duration::from_secs(3600)
        }
    );
}

#[test]
fn durations_from_one_second_to_the_cap_in_any_accepted_form() {
    for (value, secs) in [
        (json!(1), 1),
        (json!("90s"), 90),
        (json!("30m"), 1800),
        (json!("1h"), 3600),
        (json!("120"), 120),
    ] {
        match simple(value.clone()) {
            Decision::Grant { duration, .. } => assert_eq!(duration.as_secs(), secs, "{value}"),
            other => panic!("{value}: {other:?}"),
        }
    }
    for value in [
        json!(0),
        json!("0s"),
        json!("61m"),
        json!(3601),
        json!("soon"),
        json!(-5),
        json!(1.5),
        json!(null),
    ] {
        assert!(
            matches!(
                simple(value.clone()),
                Decision::Deny(Denial::InvalidRequest(_))
            ),
            "{value}"
        );
    }
}

#[test]
fn a_reason_is_required() {
    let i = incident(Status::Open);
    let r = role("auto", RoleWhen::default());
    for reason in [None, Some(""), Some("   ")] {
        let d = decide_with(&i, "alice@example.com", &r, json!(60), reason, 0);
        assert!(
            matches!(d, Decision::Deny(Denial::InvalidRequest(_))),
            "{reason:?}"
        );
    }
    let long = "x".repeat(MAX_REASON + 1);
    let d = decide_with(&i, "alice@example.com", &r, json!(60), Some(&long), 0);
    assert!(matches!(d, Decision::Deny(Denial::InvalidRequest(_))));
}

#[test]
fn a_resolved_incident_grants_nothing() {
    let d = decide_with(
        &incident(Status::Resolved),
        "alice@example.com",
        &role("auto", RoleWhen::default()),
        json!(60),
        Some("x"),
        0,
    );
    assert_eq!(d, Decision::Deny(Denial::IncidentNotOpen));
}

#[test]
fn only_current_responders_may_elevate() {
    let i = incident(Status::Open);
    let r = role("auto", RoleWhen::default());
    for who in ["bob@example.com", "carol@example.com", "PALICE", ""] {
        let d = decide_with(&i, who, &r, json!(60), Some("x"), 0);
        assert_eq!(d, Decision::Deny(Denial::NotOnCall), "{who}");
    }
}

#[test]
fn role_conditions_must_match_the_incident() {
    let i = incident(Status::Open);
    let ok = |when: RoleWhen| {
        matches!(
            decide_with(
                &i,
                "alice@example.com",
                &role("auto", when),
                json!(60),
                Some("x"),
                0
            ),
            Decision::Grant { .. }
        )
    };
    let list = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    assert!(ok(RoleWhen {
        sources: list(&["pagerduty"]),
        services: list(&["Checkout"]),
        teams: list(&["payments", "x"]),
        priorities: list(&["P1", "P2"])
    }));
    for when in [
        RoleWhen {
            sources: list(&["opsgenie"]),
            ..RoleWhen::default()
        },
        RoleWhen {
            services: list(&["billing"]),
            ..RoleWhen::default()
        },
        RoleWhen {
            teams: list(&["storage"]),
            ..RoleWhen::default()
        },
        RoleWhen {
            priorities: list(&["P3"]),
            ..RoleWhen::default()
        },
        RoleWhen {
            priorities: list(&[]),
            ..RoleWhen::default()
        },
    ] {
        let d = decide_with(
            &i,
            "alice@example.com",
            &role("auto", when.clone()),
            json!(60),
            Some("x"),
            0,
        );
        assert!(
            matches!(d, Decision::Deny(Denial::RoleNotAllowed { .. })),
            "{when:?}: {d:?}"
        );
    }
}

#[test]
fn the_cap_on_live_bindings_per_person_holds() {
    let i = incident(Status::Open);
    let r = role("auto", RoleWhen::default());
    assert!(matches!(
        decide_with(&i, "alice@example.com", &r, json!(60), Some("x"), 4),
        Decision::Grant { .. }
    ));
    assert_eq!(
        decide_with(&i, "alice@example.com", &r, json!(60), Some("x"), 5),
        Decision::Deny(Denial::TooManyActive { held: 5 })
    );
}
