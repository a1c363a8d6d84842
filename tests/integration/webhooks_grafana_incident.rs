//! Grafana Incident outgoing webhooks end to end: GI-Signature with its timestamp tolerance,
//! lifecycle, role holders, de-duplication and ordering, with the real payloads from
//! tests/fixtures.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;

const ID: &str = "grafana-incident:19";
const LINK: &str = "/a/grafana-incident-app/incidents/19/1111";
const VECTOR_SECRET: &str = "some-secret-value";
const VECTOR_HEADER: &str =
    "t=1678360185,v1=66ed620915831e9ab71604bf35d9b7cf2e71978ed6e62be6fd0e5194289849c7";

fn created() -> Vec<u8> {
    fixture("grafana-incident/grafana.incident.created.RECONSTRUCTED.json")
}

/// The role snapshot in which paulcoghlan (alice) only observes.
fn observed() -> Vec<u8> {
    fixture("grafana-incident/grafana.incident.updated.role.json")
}

fn resolved() -> Vec<u8> {
    fixture("grafana-incident/grafana.incident.updated.status-resolved.RECONSTRUCTED.json")
}

/// The resolve fixture turned into a status update back to `active`: another delivery, modified
/// at `modified`.
fn reactivated(delivery: &str, modified: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&resolved()).unwrap();
    body["id"] = json!(delivery);
    let incident = &mut body["incident"];
    incident["status"] = json!("active");
    incident["modifiedTime"] = json!(modified);
    incident["closedTime"] = json!("");
    incident["incidentEnd"] = json!("");
    serde_json::to_vec(&body).unwrap()
}

/// Deliver signed now with the configured secret; the event must be applied.
async fn apply(app: &TestApp, body: &[u8]) {
    let (status, answer) = app.grafana_incident(body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

fn signed(secret: &str, body: &[u8], age_secs: i64) -> [(&'static str, String); 1] {
    let t = Utc::now().timestamp() - age_secs;
    [("gi-signature", gi_signature(secret, body, t))]
}

#[tokio::test]
async fn lifecycle_create_assign_resolve_and_back_to_active() {
    let app = TestApp::start().await;
    let (status, answer) = app.grafana_incident(&created()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["incidents"][0], ID);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["title"], "1111");
    assert_eq!(incident["service"], "checkout");
    assert_eq!(incident["priority"], "pending");
    assert_eq!(incident["link"], LINK);
    assert_eq!(incident["opened_at"], "2023-03-09T11:09:44.293367Z");
    // paulcoghlan, the commander, is alice.
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);
    assert_eq!(incident["responders"][0]["reasons"], json!(["assignee"]));

    // The role snapshot replaces the assignees: now alice only observes.
    apply(&app, &observed()).await;
    assert_eq!(app.incident(ID).await["status"], "open");
    assert!(app.responders(ID).await.is_empty());

    apply(&app, &resolved()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], "2023-03-09T11:24:50.101010Z");
    assert_eq!(incident["priority"], "minor");
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);

    let active = reactivated(
        "webhook-out-6409c3a0a7ee628da2a70e2a",
        "2023-03-09T11:31:02.5Z",
    );
    apply(&app, &active).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert!(incident["resolved_at"].is_null());
    assert_eq!(incident["opened_at"], "2023-03-09T11:09:44.293367Z");
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);
    assert_eq!(app.webhooks_applied(), 4);
}

#[tokio::test]
async fn duplicate_deliveries_are_applied_once_even_when_signed_again() {
    let app = TestApp::start().await;
    let body = created();
    apply(&app, &body).await;
    let (status, answer) = app.grafana_incident(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "duplicate");
    // A redelivery signed at another time is still the same delivery.
    let again = signed(GI_SECRET, &body, 30);
    let (status, answer) = app.webhook("grafana-incident", &body, &again).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"], "duplicate");
    assert_eq!(app.webhooks_applied(), 1);
}

#[tokio::test]
async fn events_older_than_the_resolve_never_move_the_incident_back() {
    let app = TestApp::start().await;
    apply(&app, &resolved()).await;
    apply(&app, &created()).await;
    apply(&app, &observed()).await;
    // A status update back to active made before the resolve does not reopen it either.
    let early = reactivated(
        "webhook-out-6409c0d0a7ee628da2a70e05",
        "2023-03-09T11:20:00Z",
    );
    apply(&app, &early).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], "2023-03-09T11:24:50.101010Z");
    assert_eq!(incident["priority"], "minor");
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);
}

#[tokio::test]
async fn wrong_missing_and_tampered_signatures_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let body = created();
    let t = Utc::now().timestamp();
    let good = gi_signature(GI_SECRET, &body, t);
    let mac = good.split_once(",v1=").unwrap().1.to_string();
    let mut tampered = body.clone();
    tampered[40] ^= 0x01;
    for (body, header) in [
        (&body, Some(gi_signature("not-the-secret", &body, t))),
        (&body, Some(gi_signature(PD_SECRET, &body, t))),
        (&body, None),
        (&tampered, Some(good.clone())),
        (&body, Some(format!("t={},v1={mac}", t + 1))),
        (&body, Some(format!("v1={mac}"))),
        (&body, Some(format!("t={t}"))),
        (&body, Some(good.replace("v1=", "v0="))),
        (&body, Some(format!("{good}00"))),
        (&body, Some(format!("t=now,v1={mac}"))),
    ] {
        let headers: Vec<(&str, String)> =
            header.into_iter().map(|h| ("gi-signature", h)).collect();
        let (status, answer) = app.webhook("grafana-incident", body, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthenticated");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

/// An app that also holds the published vector's secret, as a second (rotated) secret.
async fn start_with_vector_secret(extra: &Extra<'_>) -> (Redis, breakglass::App) {
    let redis = Redis::start();
    let toml = config_toml(&redis.url(), extra);
    let one = format!(r#"secrets = ["{GI_SECRET}"]"#);
    assert!(toml.contains(&one));
    let two = format!(r#"secrets = ["{GI_SECRET}", "{VECTOR_SECRET}"]"#);
    let config = breakglass::Config::from_toml_str(&toml.replace(&one, &two)).unwrap();
    let app = breakglass::App::build(config).await.unwrap();
    (redis, app)
}

async fn post(app: &breakglass::App, body: &[u8], signature: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("http://{}/webhooks/grafana-incident", app.addr()))
        .header("gi-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_published_signature_vector_is_refused_as_stale_and_accepted_when_signed_now() {
    let (redis, app) = start_with_vector_secret(&Extra::default()).await;
    let body = fixture("grafana-incident/signature-vector.grafana.incident.updated.role.body.json");
    // A correct signature, made in 2023: far outside the 5-minute window.
    assert_eq!(
        post(&app, &body, VECTOR_HEADER).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(redis.keys("bgtest").is_empty());
    // The same body signed now with the same secret.
    let now = Utc::now().timestamp();
    let fresh = gi_signature(VECTOR_SECRET, &body, now);
    assert_eq!(post(&app, &body, &fresh).await, StatusCode::ACCEPTED);
    // The other configured secret works too (rotation).
    let other = gi_signature(GI_SECRET, &created(), now);
    assert_eq!(post(&app, &created(), &other).await, StatusCode::ACCEPTED);
    app.shutdown_handle().shutdown();

    // Only its age was wrong: with a century of tolerance the published header passes.
    let (_redis, app) = start_with_vector_secret(&Extra {
        grafana_incident: r#"tolerance = "36500d""#,
        ..Extra::default()
    })
    .await;
    assert_eq!(post(&app, &body, VECTOR_HEADER).await, StatusCode::ACCEPTED);
    app.shutdown_handle().shutdown();
}

#[tokio::test]
async fn the_default_tolerance_is_five_minutes_either_way() {
    let app = TestApp::start().await;
    let body = created();
    for age in [600, -600, 3600] {
        let (status, answer) = app
            .webhook("grafana-incident", &body, &signed(GI_SECRET, &body, age))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "age {age}s: {answer}");
        assert_eq!(answer["error"]["code"], "unauthenticated");
    }
    assert!(app.redis.keys("bgtest").is_empty());
    let minute_old = signed(GI_SECRET, &body, 60);
    let (status, answer) = app.webhook("grafana-incident", &body, &minute_old).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[tokio::test]
async fn a_configured_tolerance_of_one_hour_accepts_a_ten_minute_old_signature() {
    let app = TestApp::start_with(Extra {
        grafana_incident: r#"tolerance = "1h""#,
        ..Extra::default()
    })
    .await;
    let body = created();
    let two_hours = signed(GI_SECRET, &body, 7200);
    let (status, _) = app.webhook("grafana-incident", &body, &two_hours).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ten_minutes = signed(GI_SECRET, &body, 600);
    let (status, answer) = app.webhook("grafana-incident", &body, &ten_minutes).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[tokio::test]
async fn observers_are_responders_only_when_configured() {
    let app = TestApp::start().await;
    app.grafana_incident(&created()).await;
    app.grafana_incident(&observed()).await;
    assert!(app.responders(ID).await.is_empty());

    let app = TestApp::start_with(Extra {
        grafana_incident: "observers_are_responders = true",
        ..Extra::default()
    })
    .await;
    app.grafana_incident(&created()).await;
    apply(&app, &observed()).await;
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);
}

#[tokio::test]
async fn events_outside_the_incident_namespace_get_200_and_change_nothing() {
    let app = TestApp::start().await;
    for event in ["grafana.sift.investigation.completed", "incident.created"] {
        let to = format!(r#""event": "{event}""#);
        let body = edit(&created(), r#""event": "grafana.incident.created""#, &to);
        let (status, answer) = app.grafana_incident(&body).await;
        assert_eq!(status, StatusCode::OK, "{event}: {answer}");
        assert_eq!(answer["result"], "ignored");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400_and_changes_nothing() {
    let app = TestApp::start().await;
    for body in [
        &b"{\"event\":}"[..],
        b"not json",
        b"[]",
        b"{}",
        br#"{"id": "d1", "event": "grafana.incident.created", "incident": {"title": "x"}}"#,
        br#"{"id": "d1", "event": "grafana.incident.created", "incident": {"incidentID": ""}}"#,
        br#"{"event": "grafana.incident.created", "time": "2023-03-09T11:09:44Z", "incident": {"incidentID": "1"}}"#,
        br#"{"id": "d1", "event": "grafana.incident.created", "incident": {"incidentID": "1"}}"#,
    ] {
        let (status, answer) = app.grafana_incident(body).await;
        let text = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_payload");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn every_real_payload_is_accepted() {
    let app = TestApp::start().await;
    let (applied, duplicate) = (StatusCode::ACCEPTED, StatusCode::OK);
    for (name, expected) in [
        ("grafana.incident.created.RECONSTRUCTED", applied),
        ("grafana.incident.updated.role", applied),
        (
            "grafana.incident.updated.status-resolved.RECONSTRUCTED",
            applied,
        ),
        // The same bytes (and delivery id) as grafana.incident.updated.role: a duplicate.
        (
            "signature-vector.grafana.incident.updated.role.body",
            duplicate,
        ),
    ] {
        let body = fixture(&format!("grafana-incident/{name}.json"));
        let (status, answer) = app.grafana_incident(&body).await;
        assert_eq!(status, expected, "{name}: {answer}");
    }
    assert_eq!(app.incident(ID).await["status"], "resolved");
    assert_eq!(app.webhooks_applied(), 3);
}
