//! The Lua scripts change binding statuses only as the Rust lifecycle table says: each script
//! runs against a real Redis on a binding in every status, and the outcome is compared with
//! `bindings::lifecycle::next`.

use std::time::Duration;

use breakglass::bindings::lifecycle::{self, Trigger};
use breakglass::bindings::store::{BindingStore, CreateOutcome};
use breakglass::bindings::{Approval, Binding, BindingId, BindingStatus, EndReason};
use breakglass::incidents::state::Directory;
use breakglass::incidents::{
    IncidentEvent, IncidentId, IncidentStore, Status, ToolUser, Transition,
};
use breakglass::keyspace::Source;
use breakglass::store::Store;
use chrono::{DateTime, Utc};

use crate::harness::RedisServer;

struct Nobody;

impl Directory for Nobody {
    fn email_for(&self, _: Source, _: &ToolUser) -> Option<String> {
        None
    }
}

struct Stores {
    _redis: RedisServer,
    incidents: IncidentStore,
    bindings: BindingStore,
}

fn stores(redis: RedisServer) -> Stores {
    let config = breakglass::config::Redis {
        url: breakglass::secret::Secret::new(redis.url()),
        prefix: "bglua".into(),
        ..Default::default()
    };
    let store = Store::connect(&config, Default::default()).expect("store");
    Stores {
        _redis: redis,
        incidents: IncidentStore::new(store.clone(), Duration::from_secs(600)),
        bindings: BindingStore::new(store),
    }
}

fn event(incident: &IncidentId, status: Status, kind: &str, at: DateTime<Utc>) -> IncidentEvent {
    let mut e = IncidentEvent::new(incident.clone(), kind, at, Transition::Opens);
    e.status = Some(status);
    e.dedupe_keys = vec![format!("lua-test:{kind}")];
    e
}

/// A binding of a role of its own (so that no two share a holder key) in `status`.
fn binding(incident: &IncidentId, status: BindingStatus) -> Binding {
    let id = BindingId::new(incident);
    Binding {
        role_name: format!("breakglass-{id}"),
        id,
        incident: incident.clone(),
        role: format!("role-{}", status.as_str()),
        account: "default".into(),
        subject: "Alice@Example.com".into(),
        principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
        status,
        reason: "lua".into(),
        duration_seconds: 600,
        approval: Approval::Auto,
        requested_at: Utc::now(),
        approved_by: None,
        approved_at: None,
        approval_deadline: None,
        role_arn: None,
        granted_at: None,
        expires_at: None,
        ended_at: None,
        end_reason: None,
        ended_by: None,
        attempts: 0,
        last_error: None,
    }
}

/// Fresh stores on their own Redis, and an open incident `pagerduty:<native>`.
async fn opened(native: &str) -> (Stores, IncidentId) {
    let s = stores(RedisServer::start());
    let incident = IncidentId::new(Source::Pagerduty, native).expect("an id");
    let t0 = Utc::now() - chrono::Duration::seconds(1);
    let open = event(&incident, Status::Open, "incident.triggered", t0);
    s.incidents
        .apply(&open, &Nobody, "r1", t0)
        .await
        .expect("open");
    (s, incident)
}

/// Record one binding in every status on `incident` (open), each due an hour from now.
async fn one_in_every_status(s: &Stores, incident: &IncidentId) -> Vec<(BindingStatus, BindingId)> {
    let mut made = Vec::new();
    for status in BindingStatus::ALL {
        let (_, version) = s.incidents.get_versioned(incident).await.expect("read");
        let b = binding(incident, status);
        let due = Utc::now() + chrono::Duration::hours(1);
        let outcome = s.bindings.create(&b, version, due, &[], Utc::now()).await;
        assert!(
            matches!(outcome, Ok(CreateOutcome::Created)),
            "{status:?}: {outcome:?}"
        );
        made.push((status, b.id));
    }
    made
}

#[tokio::test]
async fn the_resolve_script_moves_exactly_the_statuses_the_table_moves() {
    let (s, incident) = opened("LUA1").await;
    let t0 = Utc::now();
    let made = one_in_every_status(&s, &incident).await;
    let t1 = t0 + chrono::Duration::seconds(1);
    s.incidents
        .apply(
            &event(&incident, Status::Resolved, "incident.resolved", t1),
            &Nobody,
            "r2",
            t1,
        )
        .await
        .expect("resolve");
    let mut moved = 0;
    for (status, id) in made {
        let after = s
            .bindings
            .get(&id)
            .await
            .expect("read")
            .expect("binding")
            .binding;
        let resolved = Trigger::Revoke(EndReason::IncidentResolved);
        let expected = lifecycle::next(status, resolved, Utc::now()).unwrap_or(status);
        assert_eq!(
            after.status, expected,
            "a {status:?} binding after the resolve"
        );
        if expected != status {
            moved += 1;
            assert_eq!(after.end_reason, Some(EndReason::IncidentResolved));
        }
    }
    assert_eq!(moved, lifecycle::revocable().len());
}

#[tokio::test]
async fn a_person_holds_a_binding_in_exactly_the_revocable_statuses() {
    let (s, incident) = opened("LUA2").await;
    for (status, first) in one_in_every_status(&s, &incident).await {
        // A second request for the same role by the same person (any case of the email).
        let mut again = binding(&incident, BindingStatus::Granting);
        again.role = format!("role-{}", status.as_str());
        again.subject = "alice@example.com".into();
        let (_, version) = s.incidents.get_versioned(&incident).await.expect("read");
        let due = Utc::now() + chrono::Duration::hours(1);
        let outcome = s
            .bindings
            .create(&again, version, due, &[], Utc::now())
            .await;
        let held = lifecycle::revocable().contains(&status);
        match outcome.expect("create") {
            CreateOutcome::Exists(id) => {
                assert!(held, "a {status:?} binding was taken as held");
                assert_eq!(id, first);
            }
            CreateOutcome::Created => assert!(!held, "a {status:?} binding was not taken as held"),
            other => panic!("{status:?}: {other:?}"),
        }
        let holds = s
            .bindings
            .held(&incident, &again.role, "default", "ALICE@example.com")
            .await
            .expect("held");
        assert!(
            holds.is_some(),
            "after the request for {status:?}, the person holds a live binding of the role"
        );
    }
}

#[tokio::test]
async fn the_reconciler_requeues_exactly_the_revoking_bindings_missing_from_the_schedule() {
    let (s, incident) = opened("LUA3").await;
    let made = one_in_every_status(&s, &incident).await;
    for (_, id) in &made {
        s.bindings.unschedule(id).await.expect("unschedule");
    }
    let requeued = s
        .bindings
        .requeue_stuck(incident.shard(), Utc::now())
        .await
        .expect("requeue");
    let expected: Vec<BindingId> = made
        .into_iter()
        .filter(|(status, _)| *status == BindingStatus::Revoking)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(requeued, expected);
}
