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
#[path = "loadgen/iam.rs"]
mod iam;
#[allow(dead_code)]
#[path = "../tests/integration/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use elevation_support::{Elev, INCIDENT};
use hdrhistogram::Histogram;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let grants: usize = std::env::var("BENCH_GRANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let e = Elev::start_with(
        "max_active_per_subject = 100000\nrequests_per_minute = 1000000",
        &iam::roles(grants, 0),
    )
    .await;
    e.open_incident().await;

    let started = Instant::now();
    let g = iam::grants(&e.app.url(""), INCIDENT, grants).await;
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
    line("total", &g.total);
    line("in IAM", &g.iam);
    line("service's own", &g.own);
}
