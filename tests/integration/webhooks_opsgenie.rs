//! Opsgenie Webhook integration end to end: static tokens, lifecycle, de-duplication and
//! ordering, with the real payloads from tests/fixtures.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;
use crate::token_sources::*;

/// The alert of the zulip fixtures (Acknowledge, AssignOwnership, Close, ...).
const ID: &str = "opsgenie:052652ac-5d1c-464a-812a-7dd18bbfba8c";
const ACKNOWLEDGED_AT: &str = "2015-01-05T10:03:44.764002246Z";
const CLOSED_AT: &str = "2015-01-05T10:06:14.669001603Z";

/// The relay Create fixture, moved onto the zulip fixtures' alert: created 2015-01-05T10:03:11.104Z.
fn created() -> Vec<u8> {
    let body = edit(
        &fixture("opsgenie/Create.json"),
        "7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295",
        "052652ac-5d1c-464a-812a-7dd18bbfba8c",
    );
    let body = edit(&body, "1593475564295", "1420452191104");
    edit(&body, "1593475564636000000", "1420452191104000000")
}

/// A later Create for the same alert (2015-01-05T10:08:20Z), after the Close.
fn created_again() -> Vec<u8> {
    edit(&created(), "1420452191104000000", "1420452500000000000")
}

/// The acknowledgement, by kenaz@puppet.com (alice's Opsgenie username).
fn acknowledged_by_alice() -> Vec<u8> {
    edit(
        &fixture("opsgenie/Acknowledge.json"),
        "fili@ifountain.com",
        "kenaz@puppet.com",
    )
}

/// Ownership assigned to user2@ifountain.com (bob).
fn assigned_to_bob() -> Vec<u8> {
    fixture("opsgenie/AssignOwnership.json")
}

fn closed() -> Vec<u8> {
    fixture("opsgenie/Close.json")
}

/// Deliver with the configured token; the event must be applied.
async fn apply(app: &TestApp, body: &[u8]) {
    let (status, answer) = app.opsgenie(body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[tokio::test]
async fn lifecycle_create_acknowledge_assign_close_and_a_newer_create_reopens() {
    let app = TestApp::start().await;
    let (status, answer) = app.opsgenie(&created()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["incidents"][0], ID);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["title"], "asdf");
    assert_eq!(incident["service"], "operations_Webhook_2");
    assert_eq!(incident["teams"], json!(["operations"]));
    assert_eq!(incident["priority"], "P3");
    assert_eq!(incident["opened_at"], "2015-01-05T10:03:11.104Z");
    // The creator is not a responder: nobody is on the alert yet.
    assert!(app.responders(ID).await.is_empty());

    apply(&app, &acknowledged_by_alice()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["acknowledged_at"], ACKNOWLEDGED_AT);
    assert_eq!(incident["title"], "test alert");
    // Only Create states the service; a later action's integration name does not replace it.
    assert_eq!(incident["service"], "operations_Webhook_2");
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);

    apply(&app, &assigned_to_bob()).await;
    let both = ["alice@example.com", "bob@example.com"];
    assert_eq!(app.responders(ID).await, both);
    assert_eq!(app.incident(ID).await["status"], "acknowledged");

    apply(&app, &closed()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], CLOSED_AT);
    assert_eq!(app.responders(ID).await, both);

    apply(&app, &created_again()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert!(incident["resolved_at"].is_null());
    assert!(incident["acknowledged_at"].is_null());
    assert_eq!(incident["opened_at"], "2015-01-05T10:03:11.104Z");
    // Reopening clears the acknowledgement; the owner stays.
    assert_eq!(app.responders(ID).await, ["bob@example.com"]);
    assert_eq!(app.webhooks_applied(), 5);
}

#[tokio::test]
async fn a_newer_create_reopens_a_closed_alert_and_nothing_else_does() {
    let app = TestApp::start().await;
    app.opsgenie(&created()).await;
    app.opsgenie(&closed()).await;
    // An UnAcknowledge newer than the Close is not a reopen.
    let unack = edit(
        &fixture("opsgenie/UnAcknowledge.json"),
        "1420452224764002246",
        "1420452400000000000",
    );
    apply(&app, &unack).await;
    assert_eq!(app.incident(ID).await["status"], "resolved");
    apply(&app, &created_again()).await;
    assert_eq!(app.incident(ID).await["status"], "open");
}

#[tokio::test]
async fn duplicate_deliveries_are_applied_once_even_when_the_body_is_rebuilt() {
    let app = TestApp::start().await;
    let body = created();
    apply(&app, &body).await;
    let (status, answer) = app.opsgenie(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "duplicate");
    assert_eq!(app.webhooks_applied(), 1);

    // Opsgenie sends no delivery id: the same action at the same alert time is the same event,
    // whatever the bytes and however the retry authenticates.
    let ack = acknowledged_by_alice();
    apply(&app, &ack).await;
    let value: serde_json::Value = serde_json::from_slice(&ack).unwrap();
    let compact = serde_json::to_vec(&value).unwrap();
    assert_ne!(compact, ack);
    let (status, answer) = app
        .webhook("opsgenie", &compact, &[custom(OPSGENIE_TOKEN)])
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"], "duplicate");
    assert_eq!(app.webhooks_applied(), 2);

    // Another action at the same alert time is another event.
    let unack = fixture("opsgenie/UnAcknowledge.json");
    apply(&app, &unack).await;
    assert_eq!(app.webhooks_applied(), 3);
}

#[tokio::test]
async fn events_older_than_the_close_never_move_the_alert_back() {
    let app = TestApp::start().await;
    apply(&app, &closed()).await;
    apply(&app, &acknowledged_by_alice()).await;
    apply(&app, &created()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], CLOSED_AT);
    assert!(incident["acknowledged_at"].is_null());
    // The late Create did not overwrite what the newer Close said.
    assert_eq!(incident["title"], "test alert");
    assert!(app.responders(ID).await.is_empty());
}

#[tokio::test]
async fn an_older_create_after_the_acknowledgement_leaves_it_acknowledged() {
    let app = TestApp::start().await;
    app.opsgenie(&acknowledged_by_alice()).await;
    apply(&app, &created()).await;
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["acknowledged_at"], ACKNOWLEDGED_AT);
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);
}

#[tokio::test]
async fn wrong_missing_and_tampered_tokens_are_refused_and_change_nothing() {
    refuses_bad_tokens("opsgenie", OPSGENIE_TOKEN, ONCALL_TOKEN, &created()).await;
}

#[tokio::test]
async fn the_token_is_accepted_as_bearer_basic_password_or_custom_header() {
    let app = TestApp::start().await;
    for (body, header) in [
        (created(), bearer(OPSGENIE_TOKEN)),
        (acknowledged_by_alice(), basic("opsgenie", OPSGENIE_TOKEN)),
        (closed(), custom(OPSGENIE_TOKEN)),
    ] {
        let (status, answer) = app.webhook("opsgenie", &body, &[header]).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    assert_eq!(app.incident(ID).await["status"], "resolved");
}

#[tokio::test]
async fn token_rotation_accepts_every_configured_token() {
    accepts_every_configured_token(
        "opsgenie",
        OPSGENIE_TOKEN,
        [
            created(),
            closed(),
            assigned_to_bob(),
            acknowledged_by_alice(),
        ],
    )
    .await;
}

#[tokio::test]
async fn unknown_actions_and_the_timeless_escalation_get_200_and_change_nothing() {
    let app = TestApp::start().await;
    let unknown = edit(&created(), r#""Create""#, r#""SomethingNew""#);
    for body in [unknown, fixture("opsgenie/Escalate.json")] {
        let (status, answer) = app.opsgenie(&body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["result"], "ignored");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn malformed_json_with_a_valid_token_is_400_and_changes_nothing() {
    let app = TestApp::start().await;
    for body in [
        &b"{\"action\": "[..],
        b"not json",
        b"[]",
        b"{}",
        br#"{"action": "Create", "alert": {"createdAt": 1420452191104}}"#,
        br#"{"action": "Create", "alert": {"alertId": "", "createdAt": 1420452191104}}"#,
        br#"{"action": "Close", "alert": {"alertId": "a1"}}"#,
        br#"{"action": "Close", "alert": {"alertId": "a1", "updatedAt": -1}}"#,
    ] {
        let (status, answer) = app.opsgenie(body).await;
        let text = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_payload");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn every_real_payload_is_accepted() {
    let app = TestApp::start().await;
    let (applied, ignored) = (StatusCode::ACCEPTED, StatusCode::OK);
    for (name, expected) in [
        ("Create", applied),
        ("Create.zulip", applied),
        ("Acknowledge", applied),
        ("UnAcknowledge", applied),
        ("AddRecipient", applied),
        ("AddTeam", applied),
        ("AssignOwnership", applied),
        ("Close", applied),
        ("AddNote", applied),
        ("TakeOwnership", applied),
        // Carries no timestamp to order it by and changes nothing breakglass tracks.
        ("Escalate", ignored),
    ] {
        let (status, answer) = app
            .opsgenie(&fixture(&format!("opsgenie/{name}.json")))
            .await;
        assert_eq!(status, expected, "{name}: {answer}");
    }
    assert_eq!(app.incident(ID).await["status"], "resolved");
    // fili acknowledged then unacknowledged; the escalation recipient is no person; bob owns it.
    assert_eq!(app.responders(ID).await, ["bob@example.com"]);
    let note = app
        .incident("opsgenie:f3efa74b-29cc-4a4f-9bb7-804d7c1be544-1639476708514")
        .await;
    assert_eq!(note["priority"], "P1");
    assert_eq!(note["service"], "gdpr-deleter-srv");
    assert_eq!(note["teams"], json!(["Tech"]));
    let taken = app.responders("opsgenie:8a745a79-3ed3-4044-8427-98e067c0623c");
    assert_eq!(taken.await, ["test@test.com"]);
}
