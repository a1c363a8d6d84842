//! The incidents API: who may read what.

use reqwest::StatusCode;

use crate::harness::*;

const ID: &str = "pagerduty:PFQZPSY";

async fn with_incident() -> TestApp {
    let app = TestApp::start().await;
    let (status, _) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app
}

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_responder_reads_their_incident_and_others_are_refused() {
    let app = with_incident().await;
    let path = format!("/v1/incidents/{ID}");
    let (status, body) = app.get(&path, ALICE_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], ID);
    assert_eq!(body["source"], "pagerduty");
    assert_eq!(body["responders"][0]["email"], "alice@example.com");
    assert_eq!(body["bindings"], serde_json::json!([]));

    let (status, body) = app.get(&path, BOB_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");

    let (status, _) = app.get(&path, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unauthenticated_callers_get_401_in_the_error_shape() {
    let app = with_incident().await;
    let path = format!("/v1/incidents/{ID}");
    let (status, body) = app.get(&path, "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let res = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let app = with_incident().await;
    let (status, body) = app.get("/v1/incidents/pagerduty:NOPE", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "incident_not_found");
    let (status, body) = app.get("/v1/incidents/jira:ABC-1", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn a_former_responder_can_still_read_the_incident() {
    let app = with_incident().await;
    let reassigned = edit(
        &fixture("pagerduty/incident.reassigned.json"),
        "PIQUG8X",
        "PFQZPSY",
    );
    let reassigned = edit(
        &reassigned,
        "2021-06-04T10:17:54.838Z",
        "2021-06-04T13:40:00.000Z",
    );
    assert_eq!(app.pagerduty(&reassigned).await.0, StatusCode::ACCEPTED);
    let path = format!("/v1/incidents/{ID}");
    assert_eq!(app.get(&path, ALICE_TOKEN).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, BOB_TOKEN).await.0, StatusCode::OK);
}

#[tokio::test]
async fn listing_open_incidents_shows_each_caller_their_own() {
    let app = with_incident().await;
    // Another incident, with bob (PI9DT01) assigned.
    assert_eq!(
        app.pagerduty(&fixture("pagerduty/incident.reassigned.json"))
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let (status, body) = app.get("/v1/incidents?status=open", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    let mut all = ids(&body);
    all.sort();
    assert_eq!(all, ["pagerduty:PFQZPSY", "pagerduty:PIQUG8X"]);
    assert_eq!(
        ids(&app.get("/v1/incidents?status=open", ALICE_TOKEN).await.1),
        [ID]
    );
    assert_eq!(
        ids(&app.get("/v1/incidents", BOB_TOKEN).await.1),
        ["pagerduty:PIQUG8X"]
    );

    let resolved = edit(
        &fixture("pagerduty/incident.resolved.json"),
        "PCPZE64",
        "PFQZPSY",
    );
    let resolved = edit(
        &resolved,
        "2021-06-04T13:16:53.816Z",
        "2021-06-04T14:16:53.816Z",
    );
    assert_eq!(app.pagerduty(&resolved).await.0, StatusCode::ACCEPTED);
    assert!(ids(&app.get("/v1/incidents?status=open", ALICE_TOKEN).await.1).is_empty());
    assert_eq!(
        ids(&app.get("/v1/incidents?status=all", ALICE_TOKEN).await.1),
        [ID]
    );

    let (status, body) = app.get("/v1/incidents?status=sideways", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn the_limit_counts_only_incidents_the_caller_may_see() {
    let app = with_incident().await;
    // Ten newer incidents on which alice is not a responder.
    for i in 0..10 {
        let body = edit(
            &fixture("pagerduty/incident.reassigned.json"),
            "PIQUG8X",
            &format!("POTHER{i}"),
        );
        let body = edit(
            &body,
            "2021-06-04T10:17:54.838Z",
            &format!("2021-06-05T10:{i:02}:00.000Z"),
        );
        assert_eq!(app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(
        ids(&app.get("/v1/incidents?limit=1", ALICE_TOKEN).await.1),
        [ID]
    );
    assert_eq!(
        ids(&app.get("/v1/incidents?limit=3", ADMIN_TOKEN).await.1).len(),
        3
    );
    let (status, body) = app.get("/v1/incidents?limit=many", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
}
