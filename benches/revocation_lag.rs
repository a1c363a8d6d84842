//! Benchmark: how long after a resolve every binding of the incident is revoked, for 1, 10, 100
//! and 1,000 bindings, against moto, beside a floor measured in the same run: moto serving the
//! same IAM calls (the session-ending deny, the policy listing and deletions, the role deletion)
//! sent straight from a tight concurrent client.
//!
//!     cargo bench --bench revocation_lag
//!     BENCH_SIZES=1,10,100 cargo bench --bench revocation_lag
//!
//! The lag is measured by the client from sending the resolve webhook until the service's
//! `breakglass_revocations_total` counts every binding (a binding is counted once its role is
//! deleted).

#[allow(dead_code)]
#[path = "../tests/integration/elevation_support.rs"]
mod elevation_support;
#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;
/// The floor is the one `./scripts/bench` measures.
#[allow(dead_code)]
#[path = "loadgen/iam.rs"]
mod loadgen_iam;
#[allow(dead_code)]
#[path = "../tests/integration/moto.rs"]
mod moto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use elevation_support::{resolve_body, Elev, INCIDENT, READ_POLICY};
use harness::ALICE_TOKEN;
use serde_json::json;
use tokio::sync::Semaphore;

/// Requests in flight at once, for the grants that set the scene and for the floor's client;
/// the service revokes with its default `[revocation] concurrency` of 64.
const CLIENT_CONCURRENCY: usize = 64;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1,10,100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("revocation_lag: resolve to every binding revoked, against moto");
    println!(
        "  {:>6}  {:>10}  {:>10}  {:>6}",
        "bindings", "lag", "floor", "ratio"
    );
    for n in sizes {
        let (lag, floor) = measure(n).await;
        println!(
            "  {n:>8}  {:>8.0}ms  {:>8.0}ms  {:>5.2}x",
            lag.as_secs_f64() * 1000.0,
            floor.as_secs_f64() * 1000.0,
            lag.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

async fn measure(n: usize) -> (Duration, Duration) {
    let roles: String = (0..n)
        .map(|i| {
            format!(
                "[[roles]]\nname = \"lag-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n"
            )
        })
        .collect();
    let e = Arc::new(
        Elev::start_with(
            "max_active_per_subject = 100000\nrequests_per_minute = 1000000",
            &roles,
        )
        .await,
    );
    e.open_incident().await;
    let gate = Arc::new(Semaphore::new(CLIENT_CONCURRENCY));
    let mut grants = tokio::task::JoinSet::new();
    for i in 0..n {
        let (e, gate) = (e.clone(), gate.clone());
        grants.spawn(async move {
            let _slot = gate.acquire().await.unwrap();
            let (status, body) = e
                .elevate_role(ALICE_TOKEN, &format!("lag-{i}"), json!("1h"))
                .await;
            assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        });
    }
    while let Some(done) = grants.join_next().await {
        done.unwrap();
    }

    let started = Instant::now();
    let (status, _) = e.app.pagerduty(&resolve_body("PFQZPSY")).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    loop {
        if e.app.metric("breakglass_revocations_total").await as usize >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "revocation stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lag = started.elapsed();
    assert_eq!(INCIDENT, "pagerduty:PFQZPSY");

    // The floor: the same IAM calls for n fresh roles of the same shape, straight to moto.
    (lag, loadgen_iam::floor(&e.moto, n, &gate).await)
}
