//! `[revocation] revoke_on_unassign`: a responder taken off an incident loses what they hold on
//! it, queued in the same step as the event that took them off; the option is off by default.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::elevation_support::*;
use crate::harness::*;

const ON: &str = "revoke_on_unassign = true";
const OTHER_INCIDENT: &str = "pagerduty:POTHER1";

/// Open a second incident, pagerduty:POTHER1, with alice assigned.
async fn open_other_incident(e: &Elev) {
    let body = edit(
        &fixture("pagerduty/incident.triggered.json"),
        "PFQZPSY",
        "POTHER1",
    );
    assert_eq!(e.app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
}

/// The reasons given by `binding.revoking` audit events for binding `id`, in every shard.
fn revoking_reasons(e: &Elev, id: &str) -> Vec<String> {
    let mut conn = e.app.redis.conn();
    let mut reasons = Vec::new();
    for stream in e
        .app
        .redis
        .keys("bgtest")
        .into_iter()
        .filter(|k| k.ends_with(":audit"))
    {
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .query(&mut conn)
            .expect("XRANGE");
        for entry in entries.ids {
            let field = |name: &str| entry.get::<String>(name).unwrap_or_default();
            if field("type") != "binding.revoking" {
                continue;
            }
            let data: Value = serde_json::from_str(&field("data")).expect("audit data JSON");
            if data["binding"] == id {
                reasons.push(data["reason"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    reasons
}

#[tokio::test]
async fn a_responder_reassigned_away_loses_their_role_on_that_incident_only() {
    let e = Elev::start_with_revocation("", "", ON).await;
    e.open_incident().await;
    open_other_incident(&e).await;
    e.add_bob().await;
    let (status, alice) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alice}");
    let (status, bob) = e.elevate_role(BOB_TOKEN, "prod-db-read", json!("1h")).await;
    assert_eq!(status, StatusCode::CREATED, "{bob}");
    let (status, elsewhere) = e
        .elevate(
            ALICE_TOKEN,
            json!({"incident": OTHER_INCIDENT, "role": "prod-db-read", "duration": "1h",
                "reason": "checking the replica"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{elsewhere}");
    assert_eq!(e.roles_in_iam().await.len(), 3);

    e.reassign_to_bob().await;
    let alice_id = alice["id"].as_str().unwrap();
    // Queued by the webhook's own step: by the time it was answered, her binding was ending.
    let right_after = e.binding(alice_id).await;
    assert!(
        ["revoking", "revoked"].contains(&right_after["status"].as_str().unwrap()),
        "{right_after}"
    );
    assert_eq!(right_after["end_reason"], "unassigned");

    let started = Instant::now();
    let alice_role = format!("breakglass-{alice_id}");
    while e.roles_in_iam().await.contains(&alice_role) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "alice's role still in IAM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = e.until_revoked(alice_id, Duration::from_secs(5)).await;
    assert_eq!(ended["end_reason"], "unassigned");
    assert_eq!(revoking_reasons(&e, alice_id), vec!["unassigned"]);

    // Bob's binding on this incident and alice's on the other one stay.
    for kept in [&bob, &elsewhere] {
        let id = kept["id"].as_str().unwrap();
        assert_eq!(e.binding(id).await["status"], "active");
        assert!(e.roles_in_iam().await.contains(&format!("breakglass-{id}")));
    }
    assert_eq!(e.roles_in_iam().await.len(), 2);
}

#[tokio::test]
async fn a_pending_request_ends_when_its_requester_is_reassigned_away() {
    let e = Elev::start_with_revocation("", "", ON).await;
    e.open_incident().await;
    e.add_bob().await;
    let (_, b) = e
        .elevate_role(ALICE_TOKEN, "prod-admin", json!("10m"))
        .await;
    assert_eq!(b["status"], "pending_approval", "{b}");
    e.reassign_to_bob().await;
    let id = b["id"].as_str().unwrap();
    let ended = e.until_revoked(id, Duration::from_secs(5)).await;
    assert_eq!(ended["end_reason"], "unassigned");
    let (status, _) = e
        .call(
            Method::POST,
            &format!("/v1/elevations/{id}/approve"),
            BOB_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(e.roles_in_iam().await.is_empty());
}

#[tokio::test]
async fn without_revoke_on_unassign_a_reassignment_leaves_the_role_in_place() {
    let e = Elev::start().await;
    e.open_incident().await;
    e.add_bob().await;
    let (status, alice) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alice}");
    e.reassign_to_bob().await;
    // Several schedule ticks: time enough for a revocation that should not happen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let id = alice["id"].as_str().unwrap();
    assert_eq!(e.binding(id).await["status"], "active");
    assert_eq!(
        e.roles_in_iam().await,
        vec![format!("breakglass-{id}")],
        "the role stays until its expiry or the resolve"
    );
    assert!(revoking_reasons(&e, id).is_empty());
}
