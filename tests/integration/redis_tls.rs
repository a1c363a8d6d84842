//! Redis over TLS with an ACL user: a redis-server with no plain port at all (`--port 0`), a
//! throwaway CA, and the default user off. The whole lifecycle works over `rediss://`; a wrong
//! password, an untrusted certificate, a missing client certificate (mutual TLS) or a plain
//! `redis://` URL fail closed with 503.

use reqwest::StatusCode;
use serde_json::json;

use crate::elevation_support::*;
use crate::harness::*;

fn ca_setting(redis: &Redis) -> String {
    let ca = redis.tls_ca_file().expect("a TLS redis");
    format!("tls_ca_file = \"{}\"", ca.display())
}

/// The app on `redis` with `settings` added to `[redis]`.
async fn app_on(redis: Redis, settings: &str) -> TestApp {
    let url = redis.url();
    let extra = Extra {
        redis: settings,
        ..Extra::default()
    };
    TestApp::start_on(redis, &url, extra).await
}

/// Readiness is not 200 and a signed webhook is refused with 503: the tool retries later.
async fn assert_fails_closed(app: &TestApp) {
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_ne!(
        ready.status(),
        StatusCode::OK,
        "ready without a usable Redis"
    );
    let (status, answer) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "store_unavailable", "{answer}");
    assert!(
        app.redis.keys("bgtest").is_empty(),
        "something reached Redis: {:?}",
        app.redis.keys("bgtest")
    );
}

#[tokio::test]
async fn the_whole_lifecycle_runs_over_tls_as_an_acl_user() {
    let redis = Redis::start_tls();
    let url = redis.url();
    assert!(url.starts_with("rediss://breakglass:"), "{url}");
    let setting = ca_setting(&redis);
    let e = Elev::start_on(redis, &url, &setting).await;

    let ready = e.app.http.get(e.app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    e.open_incident().await;
    let (status, b) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(e.roles_in_iam().await.len(), 1);
    // The state is in the TLS server (read back over TLS as the ACL user).
    assert!(
        e.app
            .redis
            .keys("bgtest")
            .iter()
            .any(|k| k.contains("audit")),
        "{:?}",
        e.app.redis.keys("bgtest")
    );

    e.resolve_revokes(b["id"].as_str().unwrap()).await;
}

#[tokio::test]
async fn a_wrong_acl_password_fails_closed_and_grants_nothing() {
    let redis = Redis::start_tls();
    let url = redis.url().replace(REDIS_PASSWORD, "not-the-password");
    assert_ne!(url, redis.url());
    let setting = ca_setting(&redis);
    let e = Elev::start_on(redis, &url, &setting).await;

    assert_fails_closed(&e.app).await;
    let (status, answer) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("30m"))
        .await;
    assert!(status.is_server_error(), "{status} {answer}");
    assert_eq!(answer["error"]["code"], "store_unavailable", "{answer}");
    assert!(e.roles_in_iam().await.is_empty());
    assert!(e.app.redis.keys("bgtest").is_empty());
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_fails_closed() {
    // No tls_ca_file: the system roots do not hold the throwaway CA.
    let app = app_on(Redis::start_tls(), "").await;
    assert_fails_closed(&app).await;
}

#[tokio::test]
async fn plain_redis_to_a_tls_only_port_fails_closed() {
    let redis = Redis::start_tls();
    let url = redis.url().replace("rediss://", "redis://");
    assert!(url.starts_with("redis://"), "{url}");
    let app = TestApp::start_on(redis, &url, Extra::default()).await;
    assert_fails_closed(&app).await;
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_redis_asks_for_one() {
    let redis = Redis::start_mtls();
    let (cert, key) = redis.tls_client_files();
    let setting = format!(
        "{}\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        ca_setting(&redis),
        cert.display(),
        key.display()
    );
    let app = app_on(redis, &setting).await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let (status, answer) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(app.webhooks_applied(), 1);
}

#[tokio::test]
async fn without_a_client_certificate_a_redis_that_asks_for_one_fails_closed() {
    let redis = Redis::start_mtls();
    let setting = ca_setting(&redis);
    let app = app_on(redis, &setting).await;
    assert_fails_closed(&app).await;
}
