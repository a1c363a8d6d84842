//! PagerDuty V3 webhooks end to end: signatures, lifecycle, de-duplication and ordering, with the
//! real payloads from tests/fixtures.

use reqwest::StatusCode;

use crate::harness::*;

const ID: &str = "pagerduty:PFQZPSY";

fn triggered() -> Vec<u8> {
    fixture("pagerduty/incident.triggered.json")
}

/// The acknowledgement fixture, moved onto the triggered fixture's incident.
fn acknowledged() -> Vec<u8> {
    edit(
        &fixture("pagerduty/incident.acknowledged.json"),
        "PQ1K5C8",
        "PFQZPSY",
    )
}

/// The resolve fixture, moved onto the triggered incident and after the acknowledgement.
fn resolved() -> Vec<u8> {
    let body = edit(
        &fixture("pagerduty/incident.resolved.json"),
        "PCPZE64",
        "PFQZPSY",
    );
    edit(
        &body,
        "2021-06-04T13:16:53.816Z",
        "2021-06-04T14:16:53.816Z",
    )
}

fn reopened() -> Vec<u8> {
    edit(
        &fixture("pagerduty/incident.reopened.json"),
        "Q05XJA8GDXGOB3",
        "PFQZPSY",
    )
}

/// The reassignment fixture (to PI9DT01, bob), between the trigger and the acknowledgement.
fn reassigned_to_bob() -> Vec<u8> {
    let body = edit(
        &fixture("pagerduty/incident.reassigned.json"),
        "PIQUG8X",
        "PFQZPSY",
    );
    edit(
        &body,
        "2021-06-04T10:17:54.838Z",
        "2021-06-04T13:40:00.000Z",
    )
}

#[tokio::test]
async fn lifecycle_trigger_acknowledge_resolve_reopen() {
    let app = TestApp::start().await;
    let (status, answer) = app.pagerduty(&triggered()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["incidents"][0], ID);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["title"], "Test Incident 3");
    assert_eq!(incident["service"], "pig208");
    assert_eq!(
        incident["link"],
        "https://pig208.pagerduty.com/incidents/PFQZPSY"
    );
    assert_eq!(incident["opened_at"], "2021-06-04T13:35:29.781Z");
    assert_eq!(app.responders(ID).await, ["alice@example.com"]);

    assert_eq!(app.pagerduty(&acknowledged()).await.0, StatusCode::ACCEPTED);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["acknowledged_at"], "2021-06-04T13:55:30.394Z");

    assert_eq!(app.pagerduty(&resolved()).await.0, StatusCode::ACCEPTED);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], "2021-06-04T14:16:53.816Z");

    assert_eq!(app.pagerduty(&reopened()).await.0, StatusCode::ACCEPTED);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "open");
    assert!(incident["resolved_at"].is_null());
    // The reopen assigned an unknown person: kept by their PagerDuty id, without email.
    let responder = &incident["responders"][0];
    assert_eq!(responder["tool_id"], "PXRUEF2");
    assert!(responder.get("email").is_none() || responder["email"].is_null());
    assert_eq!(app.webhooks_applied(), 4);
}

#[tokio::test]
async fn a_reassignment_replaces_the_assignees() {
    let app = TestApp::start().await;
    app.pagerduty(&triggered()).await;
    assert_eq!(
        app.pagerduty(&reassigned_to_bob()).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(app.responders(ID).await, ["bob@example.com"]);
}

#[tokio::test]
async fn duplicate_deliveries_are_applied_once() {
    let app = TestApp::start().await;
    let body = triggered();
    assert_eq!(app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
    let (status, answer) = app.pagerduty(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "duplicate");
    assert_eq!(app.webhooks_applied(), 1);

    // A retry carries the same X-Webhook-Id even when the event id differs.
    let signed = |body: &[u8]| pd_signature(PD_SECRET, body);
    let ack = acknowledged();
    let first = app
        .webhook(
            "pagerduty",
            &ack,
            &[
                ("x-pagerduty-signature", signed(&ack)),
                ("x-webhook-id", "delivery-7".into()),
            ],
        )
        .await;
    assert_eq!(first.0, StatusCode::ACCEPTED);
    let other = edit(
        &ack,
        "01BZYK8N47N5JG55J1EEEHPEJI",
        "01BZYK8N47N5JG55J1EEEHPXXX",
    );
    let again = app
        .webhook(
            "pagerduty",
            &other,
            &[
                ("x-pagerduty-signature", signed(&other)),
                ("x-webhook-id", "delivery-7".into()),
            ],
        )
        .await;
    assert_eq!(again.0, StatusCode::OK);
    assert_eq!(app.webhooks_applied(), 2);
}

#[tokio::test]
async fn an_older_event_arriving_late_never_moves_the_incident_back() {
    let app = TestApp::start().await;
    assert_eq!(app.pagerduty(&resolved()).await.0, StatusCode::ACCEPTED);
    assert_eq!(app.pagerduty(&triggered()).await.0, StatusCode::ACCEPTED);
    assert_eq!(app.pagerduty(&acknowledged()).await.0, StatusCode::ACCEPTED);
    let incident = app.incident(ID).await;
    assert_eq!(incident["status"], "resolved");
    // The late trigger did not overwrite what the newer resolve said.
    assert_eq!(incident["title"], "Test Incident");
    assert!(app.responders(ID).await.is_empty());
}

#[tokio::test]
async fn wrong_missing_and_tampered_signatures_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let body = triggered();
    let wrong = pd_signature("not-the-secret", &body);
    let good = pd_signature(PD_SECRET, &body);
    let mut tampered = body.clone();
    tampered[40] ^= 0x01;
    for (body, header) in [
        (&body, Some(wrong)),
        (&body, None),
        (&tampered, Some(good.clone())),
        (&body, Some(good.replace("v1=", "v0="))),
        (&body, Some(format!("{}00", good))),
    ] {
        let headers: Vec<(&str, String)> = header
            .into_iter()
            .map(|h| ("x-pagerduty-signature", h))
            .collect();
        let (status, answer) = app.webhook("pagerduty", body, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error"]["code"], "unauthenticated");
    }
    assert!(
        app.redis.keys("bgtest").is_empty(),
        "no state after refused webhooks"
    );
}

#[tokio::test]
async fn secret_rotation_accepts_every_configured_secret_and_any_listed_signature() {
    let app = TestApp::start().await;
    let body = triggered();
    let old = pd_signature(PD_SECRET_OLD, &body);
    assert_eq!(
        app.webhook("pagerduty", &body, &[("x-pagerduty-signature", old)])
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let body = acknowledged();
    let both = format!("v1={},{}", "ab".repeat(32), pd_signature(PD_SECRET, &body));
    assert_eq!(
        app.webhook("pagerduty", &body, &[("x-pagerduty-signature", both)])
            .await
            .0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn the_published_signature_vector_is_accepted_and_its_mismatch_refused() {
    let secret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK";
    let redis = Redis::start();
    let toml = config_toml(&redis.url(), &Extra::default()).replace(PD_SECRET, secret);
    let app = breakglass::App::build(breakglass::Config::from_toml_str(&toml).unwrap())
        .await
        .unwrap();
    let body = fixture("pagerduty/signature-vector.incident.priority_updated.body.json");
    let url = format!("http://{}/webhooks/pagerduty", app.addr());
    let send = |sig: &'static str| {
        reqwest::Client::new()
            .post(&url)
            .header("x-pagerduty-signature", sig)
            .body(body.clone())
            .send()
    };
    let ok = send("v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd")
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    let bad = send("v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5")
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    app.shutdown_handle().shutdown();
}

#[tokio::test]
async fn the_ping_and_unknown_event_types_get_2xx_and_change_nothing() {
    let app = TestApp::start().await;
    let (status, answer) = app.pagerduty(&fixture("pagerduty/pagey.ping.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "ignored");
    let annotated = edit(&triggered(), "incident.triggered", "incident.annotated");
    assert_eq!(app.pagerduty(&annotated).await.0, StatusCode::OK);
    let future = edit(&triggered(), "incident.triggered", "incident.something_new");
    assert_eq!(app.pagerduty(&future).await.0, StatusCode::OK);
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400() {
    let app = TestApp::start().await;
    for body in [
        &b"{\"event\": "[..],
        b"not json",
        b"[]",
        br#"{"event": {"event_type": "incident.triggered", "resource_type": "incident"}}"#,
    ] {
        let (status, answer) = app.pagerduty(body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(answer["error"]["code"], "invalid_payload");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn every_real_payload_is_accepted() {
    let app = TestApp::start().await;
    for name in [
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.resolved",
        "incident.reopened",
        "incident.reassigned",
        "incident.escalated",
        "incident.delegated",
        "incident.priority_updated",
        "incident.priority_updated.developer-docs",
        "incident.responder.added",
        "incident.responder.replied",
    ] {
        let (status, answer) = app
            .pagerduty(&fixture(&format!("pagerduty/{name}.json")))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {answer}");
    }
    assert_eq!(
        app.incident("pagerduty:Q3B15VLMF3ASBD").await["priority"],
        "P2"
    );
}
