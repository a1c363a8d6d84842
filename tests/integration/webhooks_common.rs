//! Behaviour every webhook endpoint shares: limits, unknown sources, Redis outages, and the rule
//! that nothing unauthenticated touches state.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn an_unknown_source_is_404() {
    let app = TestApp::start().await;
    let (status, body) = app.webhook("statuspage", b"{}", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_source_without_a_config_section_is_404() {
    let redis = Redis::start();
    let config = breakglass::Config::from_toml_str(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[redis]\nurl = \"{}\"\n",
        redis.url()
    ))
    .unwrap();
    let app = breakglass::App::build(config).await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("http://{}/webhooks/pagerduty", app.addr()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.shutdown_handle().shutdown();
}

#[tokio::test]
async fn an_oversized_body_is_413_and_changes_nothing() {
    let app = TestApp::start().await;
    let mut body = fixture("pagerduty/incident.triggered.json");
    body.resize(256 * 1024 + 1, b' ');
    let (status, answer) = app.pagerduty(&body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["code"], "payload_too_large");
    assert!(app.redis.keys("bgtest").is_empty());
    // Exactly at the limit is fine.
    body.truncate(256 * 1024);
    assert_eq!(app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = TestApp::start_with_server("body_limit_bytes = 1024").await;
    let body = fixture("pagerduty/incident.triggered.json");
    assert!(body.len() > 1024);
    assert_eq!(app.pagerduty(&body).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn redis_going_away_answers_503_and_the_service_recovers_by_itself() {
    let mut app = TestApp::start().await;
    let body = fixture("pagerduty/incident.triggered.json");
    app.redis.stop();
    let (status, answer) = app.pagerduty(&body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "store_unavailable");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    app.redis.restart();
    // The connection comes back on its own; the tool's retry then lands.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, _) = app.pagerduty(&body).await;
        if status == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery within 15s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.incident("pagerduty:PFQZPSY").await["status"], "open");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_rate_limit_answers_429_once_the_burst_is_spent() {
    let app = TestApp::start_with_source_limits("rate_per_second = 1\nrate_burst = 3").await;
    let body = fixture("pagerduty/pagey.ping.json");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.pagerduty(&body).await.0);
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    // Forged requests do not spend the real source's allowance.
    let forged = app
        .webhook(
            "opsgenie",
            b"{}",
            &[("authorization", "Bearer wrong".into())],
        )
        .await;
    assert_eq!(forged.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_allow_list_refuses_other_addresses_like_a_bad_signature() {
    let app = TestApp::start_with_source_limits("allow_ips = [\"192.0.2.0/24\"]").await;
    let body = fixture("pagerduty/incident.triggered.json");
    let (status, answer) = app.pagerduty(&body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], "unauthenticated");
    assert!(app.redis.keys("bgtest").is_empty());

    let app = TestApp::start_with_source_limits("allow_ips = [\"127.0.0.1\"]").await;
    assert_eq!(app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn every_auth_failure_gets_the_same_answer() {
    let app = TestApp::start().await;
    let body = fixture("pagerduty/incident.triggered.json");
    let answers = [
        app.webhook("pagerduty", &body, &[]).await,
        app.webhook(
            "pagerduty",
            &body,
            &[("x-pagerduty-signature", "v1=00".into())],
        )
        .await,
        app.webhook(
            "pagerduty",
            &body,
            &[("x-pagerduty-signature", "garbage".into())],
        )
        .await,
        app.webhook(
            "opsgenie",
            &body,
            &[("authorization", "Bearer nope".into())],
        )
        .await,
        app.webhook(
            "grafana-incident",
            &body,
            &[("gi-signature", "t=1,v1=00".into())],
        )
        .await,
    ];
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer, &answers[0].1);
    }
}

#[tokio::test]
async fn metrics_count_webhooks_by_source_and_outcome() {
    let app = TestApp::start().await;
    let body = fixture("pagerduty/incident.triggered.json");
    app.pagerduty(&body).await;
    app.pagerduty(&body).await;
    app.webhook("pagerduty", &body, &[]).await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"breakglass_webhooks_total{source="pagerduty",outcome="applied"} 1"#,
        r#"breakglass_webhooks_total{source="pagerduty",outcome="duplicate"} 1"#,
        r#"breakglass_webhooks_total{source="pagerduty",outcome="unauthenticated"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains("breakglass_webhook_duration_seconds_bucket"));
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::start().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_burst_of_events_for_one_incident_is_applied_in_full() {
    let app = TestApp::start().await;
    let template = String::from_utf8(fixture("pagerduty/incident.triggered.json")).unwrap();
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..200 {
        let body = template
            .replace("01BZYIL05THJDFF2Y08X9SVMTU", &format!("BURST{i:021}"))
            .into_bytes();
        let request = app
            .http
            .post(app.url("/webhooks/pagerduty"))
            .header("x-pagerduty-signature", pd_signature(PD_SECRET, &body))
            .body(body);
        sends.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    while let Some(sent) = sends.join_next().await {
        assert_eq!(sent.unwrap().unwrap(), StatusCode::ACCEPTED);
    }
    assert_eq!(app.webhooks_applied(), 200);
}

/// Two replicas on one Redis, each remembering the incidents it last wrote: a replica whose
/// memory is stale learns the incident from the script's conflict answer and applies on top of
/// it, so nothing written by the other replica is lost.
#[tokio::test]
async fn two_replicas_interleaving_one_incidents_events_lose_none() {
    let a = TestApp::start().await;
    let b = breakglass::App::build(breakglass::Config::from_toml_str(&a.config_text).unwrap())
        .await
        .unwrap();
    let b_url = format!("http://{}", b.addr());
    let b_stop = b.shutdown_handle();
    tokio::spawn(b.wait());
    let send = |url: String, body: Vec<u8>| {
        let http = a.http.clone();
        async move {
            http.post(format!("{url}/webhooks/pagerduty"))
                .header("x-pagerduty-signature", pd_signature(PD_SECRET, &body))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let a_url = a.url("").trim_end_matches('/').to_owned();
    // In order, alternating: triggered (A), acknowledged (B), reassigned (A), resolved (B).
    let acknowledged = edit(
        &fixture("pagerduty/incident.acknowledged.json"),
        "PQ1K5C8",
        "PFQZPSY",
    );
    let reassigned = edit(
        &fixture("pagerduty/incident.reassigned.json"),
        "PIQUG8X",
        "PFQZPSY",
    );
    let reassigned = edit(
        &reassigned,
        "2021-06-04T10:17:54.838Z",
        "2021-06-04T13:56:00.000Z",
    );
    let resolved = crate::elevation_support::resolve_body("PFQZPSY");
    let sequence = [
        fixture("pagerduty/incident.triggered.json"),
        acknowledged,
        reassigned,
        resolved,
    ];
    for (i, body) in sequence.iter().enumerate() {
        let url = if i % 2 == 0 { &a_url } else { &b_url };
        assert_eq!(send(url.clone(), body.clone()).await, StatusCode::ACCEPTED);
    }
    assert_eq!(a.webhooks_applied(), 4);
    // The same as one replica makes of the same sequence.
    let one = TestApp::start().await;
    for body in &sequence {
        assert_eq!(one.pagerduty(body).await.0, StatusCode::ACCEPTED);
    }
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("updated_at");
        v
    };
    let two = strip(a.incident("pagerduty:PFQZPSY").await);
    assert_eq!(two, strip(one.incident("pagerduty:PFQZPSY").await));
    assert_eq!(two["status"], "resolved");

    // Then 100 distinct deliveries for one incident, half to each replica, all at once.
    let template = String::from_utf8(fixture("pagerduty/incident.triggered.json")).unwrap();
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..100 {
        let body = template
            .replace("01BZYIL05THJDFF2Y08X9SVMTU", &format!("TWO{i:023}"))
            .replace("PFQZPSY", "PTWOREP")
            .into_bytes();
        let url = if i % 2 == 0 {
            a_url.clone()
        } else {
            b_url.clone()
        };
        sends.spawn(send(url, body));
    }
    while let Some(status) = sends.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::ACCEPTED);
    }
    let applied = a
        .audit_entries()
        .into_iter()
        .filter(|(t, i, _)| t == "webhook.applied" && i == "pagerduty:PTWOREP")
        .count();
    assert_eq!(applied, 100);
    assert!(a.until_sealed().await.is_intact());
    b_stop.shutdown();
}
