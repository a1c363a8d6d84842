//! The real binary as operators run it: logs carry request ids but never secrets, tokens,
//! signatures or bodies, and SIGTERM stops it cleanly.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn logs_never_contain_secrets_tokens_signatures_or_bodies_and_sigterm_stops_cleanly() {
    let redis = Redis::start();
    let port = free_port();
    let config = config_toml(&redis.url(), &Extra::default()).replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(["serve", "--config"])
        .arg(file.path())
        .env("BREAKGLASS_LOG", "debug")
        .env_remove("BREAKGLASS_REDIS_URL")
        .env_remove("BREAKGLASS_LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "service did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let body = fixture("pagerduty/incident.triggered.json");
    let signature = pd_signature(PD_SECRET, &body);
    let sent = http
        .post(format!("{base}/webhooks/pagerduty"))
        .header("x-pagerduty-signature", &signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    // A refused one, with a wrong token and a body full of a marker.
    let refused = http
        .post(format!("{base}/webhooks/opsgenie"))
        .bearer_auth("wrong-token-LEAKMARKER")
        .body("{\"secret\": \"BODYMARKER\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let ok = http
        .post(format!("{base}/webhooks/opsgenie"))
        .bearer_auth(OPSGENIE_TOKEN)
        .body(fixture("opsgenie/Create.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    let api = http
        .get(format!("{base}/v1/incidents/pagerduty:PFQZPSY"))
        .bearer_auth(ALICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no clean stop within 10s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.contains("request_id"),
        "logs carry request ids:\n{logs}"
    );
    assert!(logs.contains("webhook applied"), "{logs}");
    for secret in [
        PD_SECRET,
        PD_SECRET_OLD,
        GI_SECRET,
        OPSGENIE_TOKEN,
        ONCALL_TOKEN,
        ALICE_TOKEN,
        AUDIT_KEY,
        "LEAKMARKER",
        "BODYMARKER",
        signature.trim_start_matches("v1="),
        "Test Incident 3",
        "asdf",
    ] {
        assert!(!logs.contains(secret), "logs contain {secret:?}:\n{logs}");
    }
}
