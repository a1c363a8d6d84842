//! Elevation end to end: the real app, a real Redis and moto's IAM.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::elevation_support::*;
use crate::harness::*;
use crate::moto::policy_json;

#[tokio::test]
async fn an_on_call_responder_gets_a_scoped_role_trusted_only_by_them() {
    let e = Elev::start().await;
    e.open_incident().await;
    let (status, b) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("30m"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["incident"], INCIDENT);
    assert_eq!(b["role"], "prod-db-read");
    assert_eq!(b["subject"], "alice@example.com");
    let arn = b["role_arn"].as_str().unwrap();
    let id = b["id"].as_str().unwrap();
    assert!(
        arn.ends_with(&format!(":role/breakglass/breakglass-{id}")),
        "{arn}"
    );
    assert!(b["assume_role_command"].as_str().unwrap().contains(arn));
    let expires_at = b["expires_at"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires_at).unwrap();
    let granted = chrono::DateTime::parse_from_rfc3339(b["granted_at"].as_str().unwrap()).unwrap();
    assert!((expires - granted).num_seconds() <= 1800);

    // Read the role back from IAM.
    let iam = e.moto.client();
    let name = format!("breakglass-{id}");
    let role = iam.get_role().role_name(&name).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.path(), "/breakglass/");
    assert_eq!(role.max_session_duration(), Some(3600));
    let trust = policy_json(role.assume_role_policy_document().unwrap());
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0]["Principal"]["AWS"],
        "arn:aws:iam::123456789012:user/alice"
    );
    let until = statements[0]["Condition"]["DateLessThan"]["aws:CurrentTime"]
        .as_str()
        .unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(until)
            .unwrap()
            .timestamp(),
        expires.timestamp()
    );
    let inline = iam
        .get_role_policy()
        .role_name(&name)
        .policy_name("breakglass")
        .send()
        .await
        .unwrap();
    let inline = policy_json(inline.policy_document());
    for s in inline["Statement"].as_array().unwrap() {
        assert_eq!(s["Condition"]["DateLessThan"]["aws:CurrentTime"], until);
    }
    let tags = iam.list_role_tags().role_name(&name).send().await.unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(tag("breakglass:incident").as_deref(), Some(INCIDENT));
    assert_eq!(
        tag("breakglass:subject").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(tag("breakglass:binding").as_deref(), Some(id));
    let tagged =
        chrono::DateTime::parse_from_rfc3339(&tag("breakglass:expires-at").unwrap()).unwrap();
    assert_eq!(tagged.timestamp(), expires.timestamp());

    // The binding shows on the incident, and is readable by its holder.
    let incident = e.app.incident(INCIDENT).await;
    assert_eq!(incident["bindings"][0]["id"], id);
    let (status, read) = e
        .call(Method::GET, &format!("/v1/elevations/{id}"), ALICE_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["status"], "active");
}

#[tokio::test]
async fn a_retried_request_returns_the_same_binding_and_makes_no_second_role() {
    let e = Elev::start().await;
    e.open_incident().await;
    let (first, a) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("30m"))
        .await;
    assert_eq!(first, StatusCode::CREATED);
    let (again, b) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("30m"))
        .await;
    assert_eq!(again, StatusCode::OK);
    assert_eq!(a["id"], b["id"]);
    assert_eq!(e.roles_in_iam().await.len(), 1);
}

#[tokio::test]
async fn every_refusal_has_its_contract_code() {
    let e = Elev::start().await;
    e.open_incident().await;
    let ok =
        json!({"incident": INCIDENT, "role": "prod-db-read", "duration": "30m", "reason": "r"});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases = [
        (BOB_TOKEN, ok.clone(), 403, "not_on_call"),
        (
            ALICE_TOKEN,
            with("incident", json!("pagerduty:NOPE")),
            404,
            "incident_not_found",
        ),
        (
            ALICE_TOKEN,
            with("role", json!("root")),
            404,
            "role_not_found",
        ),
        (
            ALICE_TOKEN,
            with("role", json!("opsgenie-only")),
            403,
            "role_not_allowed",
        ),
        (
            ALICE_TOKEN,
            with("duration", json!("2h")),
            422,
            "invalid_request",
        ),
        (
            ALICE_TOKEN,
            with("duration", json!(0)),
            422,
            "invalid_request",
        ),
        (
            ALICE_TOKEN,
            with("reason", json!("")),
            422,
            "invalid_request",
        ),
        (
            ALICE_TOKEN,
            with("incident", json!("nonsense")),
            422,
            "invalid_request",
        ),
        (
            ALICE_TOKEN,
            with("role", json!("broken")),
            502,
            "grant_failed",
        ),
        ("not-a-token", ok.clone(), 401, "unauthenticated"),
    ];
    for (token, body, status, code) in cases {
        let (got, answer) = e.elevate(token, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    // The failed grant left nothing in IAM.
    assert!(e.roles_in_iam().await.is_empty());
    // Malformed JSON.
    let res = e
        .app
        .http
        .post(e.app.url("/v1/elevations"))
        .bearer_auth(ALICE_TOKEN)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A resolved incident grants nothing.
    e.resolve().await;
    let (got, answer) = e.elevate(ALICE_TOKEN, ok.clone()).await;
    assert_eq!(
        (got.as_u16(), answer["error"]["code"].as_str()),
        (403, Some("incident_not_open"))
    );
}

#[tokio::test]
async fn the_per_person_limits_hold() {
    let e = Elev::start_with("max_active_per_subject = 1", "").await;
    e.open_incident().await;
    assert_eq!(
        e.elevate_role(ALICE_TOKEN, "prod-db-read", json!(60))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, answer) = e.elevate_role(ALICE_TOKEN, "prod-admin", json!(60)).await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (422, Some("invalid_request")),
        "{answer}"
    );

    // At least 30 requests a minute get through before any 429.
    let mut first_429 = None;
    for i in 0..80 {
        let (status, _) = e.elevate_role(ALICE_TOKEN, "root", json!(60)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            first_429 = Some(i);
            break;
        }
    }
    let first = first_429.expect("the rate limit answers 429 eventually");
    assert!(first >= 30, "only {first} requests got through");

    // Approvals draw on the same allowance: each, refused or not, is an audit entry.
    let (status, answer) = e
        .call(
            Method::POST,
            "/v1/elevations/0123456789abcdef/approve",
            ALICE_TOKEN,
        )
        .await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{answer}"
    );
}

#[tokio::test]
async fn the_store_going_away_fails_closed_with_503() {
    let mut e = Elev::start().await;
    e.open_incident().await;
    e.app.redis.stop();
    let (status, answer) = e.elevate_role(ALICE_TOKEN, "prod-db-read", json!(60)).await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (503, Some("store_unavailable"))
    );
    assert!(e.roles_in_iam().await.is_empty());
}

#[tokio::test]
async fn a_two_second_grant_is_gone_from_iam_within_two_seconds_of_its_expiry() {
    let e = Elev::start().await;
    e.open_incident().await;
    let (status, b) = e.elevate_role(ALICE_TOKEN, "prod-db-read", json!(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let expires = chrono::DateTime::parse_from_rfc3339(b["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(e.roles_in_iam().await.len(), 1);
    e.until_no_roles(std::time::Duration::from_secs(10)).await;
    let late = chrono::Utc::now().signed_duration_since(expires);
    assert!(
        late.num_milliseconds() <= 2000,
        "role removed {late} after expiry"
    );
    // The role goes first and the binding is marked just after it, so its record may still
    // say "revoking" for a moment.
    let read = e
        .until_revoked(b["id"].as_str().unwrap(), std::time::Duration::from_secs(5))
        .await;
    assert_eq!(read["end_reason"], "expired");
}

#[tokio::test]
async fn resolving_the_incident_revokes_its_bindings() {
    let e = Elev::start().await;
    e.open_incident().await;
    let (_, b) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    assert_eq!(e.roles_in_iam().await.len(), 1);
    e.resolve().await;
    e.until_no_roles(std::time::Duration::from_secs(5)).await;
    let id = b["id"].as_str().unwrap();
    let read = e.until_revoked(id, std::time::Duration::from_secs(5)).await;
    assert_eq!(read["end_reason"], "incident_resolved");
}

#[tokio::test]
async fn revocations_are_counted_with_their_lag() {
    let e = Elev::start().await;
    e.open_incident().await;
    e.elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    e.resolve().await;
    e.until_no_roles(std::time::Duration::from_secs(5)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = e
            .app
            .http
            .get(e.app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(r#"breakglass_revocations_total{reason="incident_resolved"} 1"#) {
            assert!(
                text.contains("breakglass_revocation_lag_seconds_count 1"),
                "{text}"
            );
            assert!(text.contains("breakglass_revocation_queue_depth"), "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_holder_or_an_admin_revokes_and_nobody_else() {
    let e = Elev::start().await;
    e.open_incident().await;
    let (_, b) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    let path = format!("/v1/elevations/{}", b["id"].as_str().unwrap());
    let (status, answer) = e.call(Method::DELETE, &path, BOB_TOKEN).await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = e.call(Method::GET, &path, BOB_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = e.call(Method::DELETE, &path, ALICE_TOKEN).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    e.until_no_roles(std::time::Duration::from_secs(5)).await;
    let (status, answer) = e.call(Method::DELETE, &path, ADMIN_TOKEN).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "revoking twice is harmless: {answer}"
    );
    let (status, _) = e
        .call(Method::GET, "/v1/elevations/0aaaaaaaaaaaaaaa", ADMIN_TOKEN)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_peer_role_waits_for_another_responder() {
    let e = Elev::start().await;
    e.open_incident().await;
    let (status, b) = e
        .elevate_role(ALICE_TOKEN, "prod-admin", json!("10m"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["status"], "pending_approval");
    assert!(e.roles_in_iam().await.is_empty());
    let approve = format!("/v1/elevations/{}/approve", b["id"].as_str().unwrap());
    // Never self-approval, never a non-responder.
    let (status, answer) = e.call(Method::POST, &approve, ALICE_TOKEN).await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = e.call(Method::POST, &approve, BOB_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = e.call(Method::POST, &approve, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Once bob responds too, he may approve.
    e.add_bob().await;
    let (status, active) = e.call(Method::POST, &approve, BOB_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_eq!(active["status"], "active");
    assert_eq!(active["approved_by"], "bob@example.com");
    assert_eq!(e.roles_in_iam().await.len(), 1);
}

#[tokio::test]
async fn a_pending_request_expires() {
    let e = Elev::start_with("pending_ttl = \"1s\"", "").await;
    e.open_incident().await;
    let (_, b) = e
        .elevate_role(ALICE_TOKEN, "prod-admin", json!("10m"))
        .await;
    let path = format!("/v1/elevations/{}", b["id"].as_str().unwrap());
    let read = e
        .until_revoked(b["id"].as_str().unwrap(), std::time::Duration::from_secs(5))
        .await;
    assert_eq!(read["end_reason"], "approval_expired");
    e.add_bob().await;
    let (status, _) = e
        .call(Method::POST, &format!("{path}/approve"), BOB_TOKEN)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_approval_grants_nothing_once_the_requester_left_the_incident() {
    let e = Elev::start().await;
    e.open_incident().await;
    e.add_bob().await;
    let (_, b) = e
        .elevate_role(ALICE_TOKEN, "prod-admin", json!("10m"))
        .await;
    assert_eq!(b["status"], "pending_approval");
    // The incident is reassigned to bob, after bob was added: alice is no longer a responder.
    e.reassign_to_bob().await;
    let approve = format!("/v1/elevations/{}/approve", b["id"].as_str().unwrap());
    let (status, answer) = e.call(Method::POST, &approve, BOB_TOKEN).await;
    assert_eq!(
        (status.as_u16(), answer["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{answer}"
    );
    assert!(e.roles_in_iam().await.is_empty());
}
