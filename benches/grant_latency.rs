//! Benchmark: elevation latency against a local IAM endpoint (moto), and the service's own share.
//!
//! `BENCH_GRANTS` elevations (default 200), one after another, each for another role of the same
//! open incident, against the real service, a real Redis and moto's server. For each, the client
//! measures the whole request and reads the time the service spent in IAM from the
//! `Server-Timing: iam;dur=...` header; the service's own share is the difference.
//!
//!     cargo bench --bench grant_latency

#[allow(dead_code)]
#[path = "../tests/integration/elevation_support.rs"]
mod elevation_support;
#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../tests/integration/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use elevation_support::{Elev, INCIDENT, READ_POLICY};
use harness::ALICE_TOKEN;
use hdrhistogram::Histogram;
use serde_json::json;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let grants: usize = std::env::var("BENCH_GRANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let roles: String = (0..grants)
        .map(|i| format!("[[roles]]\nname = \"bench-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n"))
        .collect();
    let e = Elev::start_with(
        "max_active_per_subject = 100000\nrequests_per_minute = 1000000",
        &roles,
    )
    .await;
    e.open_incident().await;

    let mut total = Histogram::<u64>::new(3).unwrap();
    let mut iam = Histogram::<u64>::new(3).unwrap();
    let mut own = Histogram::<u64>::new(3).unwrap();
    let started = Instant::now();
    for i in 0..grants {
        let sent = Instant::now();
        let res = e
            .app
            .http
            .post(e.app.url("/v1/elevations"))
            .bearer_auth(ALICE_TOKEN)
            .json(&json!({"incident": INCIDENT, "role": format!("bench-{i}"), "duration": "30m", "reason": "bench"}))
            .send()
            .await
            .expect("elevation request");
        let elapsed = sent.elapsed();
        let status = res.status();
        let iam_ms: f64 = res
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("iam;dur="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        assert_eq!(
            status,
            reqwest::StatusCode::CREATED,
            "grant {i}: {}",
            res.text().await.unwrap_or_default()
        );
        let iam_us = (iam_ms * 1000.0) as u64;
        let total_us = elapsed.as_micros() as u64;
        total.record(total_us).unwrap();
        iam.record(iam_us).unwrap();
        own.record(total_us.saturating_sub(iam_us)).unwrap();
    }
    let wall = started.elapsed();
    let ms = |us: u64| Duration::from_micros(us).as_secs_f64() * 1000.0;
    let line = |name: &str, h: &Histogram<u64>| {
        println!(
            "  {name:<14} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        )
    };
    println!(
        "grant_latency: {grants} elevations, one at a time, against moto ({:.1} s)",
        wall.as_secs_f64()
    );
    line("total", &total);
    line("in IAM", &iam);
    line("service's own", &own);
}
