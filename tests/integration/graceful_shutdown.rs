//! A graceful stop finishes the revocations in hand: nothing is left leased to a worker that is
//! gone, so the next replica need not wait for leases to lapse.

use reqwest::StatusCode;
use serde_json::json;

use crate::elevation_support::*;
use crate::harness::*;
use crate::moto::Moto;

#[tokio::test]
async fn a_graceful_stop_drains_in_flight_revocations() {
    let moto = Moto::start();
    let redis = Redis::start();
    let roles: String = (0..24)
        .map(|i| format!("[[roles]]\nname = \"drain-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n"))
        .collect();
    let mut tail = catalogue(
        &moto,
        "max_active_per_subject = 100\nrequests_per_minute = 100000",
        &roles,
    );
    tail.push_str("\n[revocation]\nlease = \"60s\"\nconcurrency = 4\n");
    let config = config_toml(
        &redis.url(),
        &Extra {
            tail: &tail,
            ..Extra::default()
        },
    );
    let app = breakglass::App::build(breakglass::Config::from_toml_str(&config).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.addr());
    let http = reqwest::Client::new();
    let post = |path: &str| http.post(format!("{base}{path}"));

    let trigger = fixture("pagerduty/incident.triggered.json");
    let sent = post("/webhooks/pagerduty")
        .header("x-pagerduty-signature", pd_signature(PD_SECRET, &trigger))
        .body(trigger)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let mut ids = Vec::new();
    for i in 0..24 {
        let res = post("/v1/elevations")
            .bearer_auth(ALICE_TOKEN)
            .json(&json!({"incident": INCIDENT, "role": format!("drain-{i}"), "duration": "1h", "reason": "drain"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: serde_json::Value = res.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let resolve = resolve_body("PFQZPSY");
    let sent = post("/webhooks/pagerduty")
        .header("x-pagerduty-signature", pd_signature(PD_SECRET, &resolve))
        .body(resolve)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);

    // Stop while revocations are in flight, and wait for the stop to complete.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    app.shutdown_handle().shutdown();
    app.wait().await.unwrap();

    // Every binding is either revoked, or still due now for the next replica: none is held
    // under a lease by the worker that stopped.
    let mut conn = redis.conn();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut revoked = 0;
    for id in &ids {
        let shard = u16::from_str_radix(&id[..1], 16).unwrap();
        let status: String = redis::cmd("HGET")
            .arg(format!("bgtest:{{{shard}}}:binding:{id}"))
            .arg("status")
            .query(&mut conn)
            .unwrap();
        if status == "revoked" {
            revoked += 1;
            continue;
        }
        assert_eq!(status, "revoking", "{id}");
        let due: Option<f64> = redis::cmd("ZSCORE")
            .arg(format!("bgtest:{{{shard}}}:schedule"))
            .arg(id)
            .query(&mut conn)
            .unwrap();
        let due = due.expect("a revoking binding stays on the schedule") as i64;
        assert!(
            due <= now_ms,
            "{id} is leased {} ms past the stop",
            due - now_ms
        );
    }
    assert!(revoked > 0, "the stop came before any revocation ran");
}
