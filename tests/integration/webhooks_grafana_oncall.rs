//! Grafana OnCall outgoing webhooks end to end: static tokens, lifecycle, de-duplication of
//! rebuilt retries and ordering, with the real payloads from tests/fixtures.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;
use crate::token_sources::*;

const ID: &str = "grafana-oncall:I6HNZGUFG4K11";
const LINK: &str = "https://**********.grafana.net/a/grafana-oncall-app/alert-groups/I6HNZGUFG4K11";

fn created() -> Vec<u8> {
    fixture("grafana-oncall/alert_group_created.RECONSTRUCTED.json")
}

fn acknowledged() -> Vec<u8> {
    fixture("grafana-oncall/acknowledge.RECONSTRUCTED.json")
}

fn resolved() -> Vec<u8> {
    fixture("grafana-oncall/resolve.docs-sample.json")
}

/// OnCall sends `unresolve` without `event.time`: breakglass orders it by its receipt.
fn unresolved() -> Vec<u8> {
    fixture("grafana-oncall/unresolve.RECONSTRUCTED.json")
}

/// Deliver with the configured token; the event must be applied.
async fn apply(app: &TestApp, body: &[u8]) {
    let (status, answer) = app.grafana_oncall(body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

/// The reasons the only responder holds (alice, by her OnCall username `admin`).
async fn alice_reasons(app: &TestApp) -> Value {
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);
    app.incident(ID).await["responders"][0]["reasons"].clone()
}

#[tokio::test]
async fn lifecycle_create_acknowledge_resolve_unresolve() {
    let app = TestApp::start().await;
    let (status, answer) = app.grafana_oncall(&created()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["incidents"][0], ID);
    let incident = app.incident(ID).await;
    assert_eq!(incident["source"], "grafana-oncall");
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["title"], "Incident");
    assert_eq!(incident["service"], "Main Integration - Webhook");
    assert_eq!(incident["teams"], json!(["Webhooks Demo"]));
    assert_eq!(incident["link"], LINK);
    assert_eq!(incident["opened_at"], "2023-04-19T21:53:48.231148Z");
    // No severity or priority label: none is invented.
    assert!(incident["priority"].is_null());
    // alice is about to be notified.
    assert_eq!(alice_reasons(&app).await, json!(["notified"]));

    apply(&app, &acknowledged()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["acknowledged_at"], "2023-04-19T21:54:39.029347Z");
    let reasons = alice_reasons(&app).await;
    assert_eq!(reasons, json!(["acknowledger", "notified"]));

    apply(&app, &resolved()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], "2023-04-19T21:59:21.714058Z");
    // Nobody is paged any more; alice stays as the acknowledger.
    assert_eq!(alice_reasons(&app).await, json!(["acknowledger"]));

    apply(&app, &unresolved()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert!(incident["resolved_at"].is_null());
    assert!(incident["acknowledged_at"].is_null());
    assert_eq!(incident["opened_at"], "2023-04-19T21:53:48.231148Z");
    assert_eq!(alice_reasons(&app).await, json!(["notified"]));
    assert_eq!(app.webhooks_applied(), 4);
}

#[tokio::test]
async fn duplicate_deliveries_are_applied_once() {
    let app = TestApp::start().await;
    let body = created();
    apply(&app, &body).await;
    let (status, answer) = app.grafana_oncall(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "duplicate");
    assert_eq!(app.webhooks_applied(), 1);
    apply(&app, &acknowledged()).await;
    assert_eq!(app.webhooks_applied(), 2);
}

#[tokio::test]
async fn a_retry_with_a_rebuilt_body_is_still_a_duplicate() {
    let app = TestApp::start().await;
    let body = acknowledged();
    apply(&app, &body).await;

    // OnCall rebuilds the body on retry: same alert group, type and time; other fields moved,
    // changed or re-spaced.
    let mut rebuilt: Value = serde_json::from_slice(&body).unwrap();
    rebuilt["alert_group"]["alerts_count"] = json!(2);
    rebuilt["alert_group"]["last_alert"]["id"] = json!("AA74DN7T4JQB7");
    rebuilt["notified_users"] = json!([]);
    let compact = serde_json::to_vec(&rebuilt).unwrap();
    let spaced = serde_json::to_vec_pretty(&rebuilt).unwrap();
    for (retry, header) in [
        (compact, bearer(ONCALL_TOKEN)),
        (spaced, custom(ONCALL_TOKEN)),
    ] {
        assert_ne!(retry, body);
        let (status, answer) = app.webhook("grafana-oncall", &retry, &[header]).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["result"], "duplicate");
    }
    assert_eq!(app.webhooks_applied(), 1);
    // The retry changed nothing: alice is still notified.
    let reasons = alice_reasons(&app).await;
    assert_eq!(reasons, json!(["acknowledger", "notified"]));
}

#[tokio::test]
async fn events_older_than_the_resolve_never_move_the_alert_group_back() {
    let app = TestApp::start().await;
    apply(&app, &resolved()).await;
    apply(&app, &created()).await;
    apply(&app, &acknowledged()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], "2023-04-19T21:59:21.714058Z");
    assert!(incident["acknowledged_at"].is_null());
    assert!(app.responders(ID).await.is_empty());
}

/// `unresolve` carries no time, so it is ordered by its receipt. A resolve that OnCall stamps a
/// few seconds earlier than that receipt (made after the unresolve, delivered after it) must still
/// resolve: dropping it as stale would leave grants alive on a closed alert group.
#[tokio::test]
async fn a_resolve_made_before_the_unresolve_was_received_still_resolves() {
    let app = TestApp::start().await;
    apply(&app, &created()).await;
    apply(&app, &resolved()).await;
    apply(&app, &unresolved()).await;
    assert_eq!(app.incident(ID).await["status"], "open");
    let at = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    let body = edit(&resolved(), "2023-04-19T21:59:21.714058+00:00", &at);
    let body = edit(&body, "2023-04-19T21:59:21.714058Z", &at);
    apply(&app, &body).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved", "{incident}");
}

#[tokio::test]
async fn an_older_create_after_the_acknowledgement_leaves_it_acknowledged() {
    let app = TestApp::start().await;
    app.grafana_oncall(&acknowledged()).await;
    apply(&app, &created()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["acknowledged_at"], "2023-04-19T21:54:39.029347Z");
}

#[tokio::test]
async fn wrong_missing_and_tampered_tokens_are_refused_and_change_nothing() {
    refuses_bad_tokens("grafana-oncall", ONCALL_TOKEN, OPSGENIE_TOKEN, &created()).await;
}

#[tokio::test]
async fn the_token_is_accepted_as_bearer_basic_password_or_custom_header() {
    let app = TestApp::start().await;
    for (body, header) in [
        (created(), bearer(ONCALL_TOKEN)),
        (acknowledged(), basic("grafana", ONCALL_TOKEN)),
        (resolved(), custom(ONCALL_TOKEN)),
    ] {
        let (status, answer) = app.webhook("grafana-oncall", &body, &[header]).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    assert_eq!(app.incident(ID).await["status"], "resolved");
}

#[tokio::test]
async fn token_rotation_accepts_every_configured_token() {
    accepts_every_configured_token(
        "grafana-oncall",
        ONCALL_TOKEN,
        [created(), acknowledged(), resolved(), unresolved()],
    )
    .await;
}

#[tokio::test]
async fn unknown_event_types_get_200_and_change_nothing() {
    let app = TestApp::start().await;
    for kind in ["something new", "alert group moved"] {
        let body = edit(
            &created(),
            "\"alert group created\"",
            &format!("\"{kind}\""),
        );
        let (status, answer) = app.grafana_oncall(&body).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {answer}");
        assert_eq!(answer["result"], "ignored");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn malformed_json_with_a_valid_token_is_400_and_changes_nothing() {
    let app = TestApp::start().await;
    for body in [
        &b"{\"event\""[..],
        b"not json",
        b"null",
        b"{}",
        br#"{"event": {"time": "2023-04-19T21:53:48Z"}, "alert_group": {"id": "G1"}}"#,
        br#"{"event": {"type": "resolve"}, "alert_group": {"title": "x"}}"#,
        br#"{"event": {"type": "resolve"}, "alert_group": {"id": "a b"}}"#,
        br#"{"event": {"type": "resolve", "time": "now"}, "alert_group": {"id": "G1"}}"#,
    ] {
        let (status, answer) = app.grafana_oncall(body).await;
        let text = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_payload");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn every_real_payload_is_accepted() {
    let app = TestApp::start().await;
    for name in [
        "alert_group_created.RECONSTRUCTED",
        "acknowledge.RECONSTRUCTED",
        "resolve.docs-sample",
        "unresolve.RECONSTRUCTED",
    ] {
        let body = fixture(&format!("grafana-oncall/{name}.json"));
        let (status, answer) = app.grafana_oncall(&body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {answer}");
    }
    assert_eq!(app.incident(ID).await["status"], "open");
}
