//! Benchmark: a burst of signed PagerDuty webhooks against the real service and a real Redis.
//!
//! An alert storm: `BENCH_REQUESTS` distinct, correctly signed deliveries (default 5000) spread
//! over `BENCH_INCIDENTS` incidents (default 500), sent by `BENCH_CONCURRENCY` concurrent clients
//! (default 32). Every one must be accepted (202); the run fails otherwise. Prints throughput
//! and latency percentiles measured by the client.
//!
//!     cargo bench --bench webhook_burst
//!
//! The load generator runs in the same process as the service and shares the machine's cores
//! with it and with redis-server, so the figures are a floor for the service alone.

#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use breakglass::{App, Config};
use harness::{config_toml, fixture, pd_signature, Extra, RedisServer, PD_SECRET};
use hdrhistogram::Histogram;
use tokio::sync::Mutex;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let requests = env_or("BENCH_REQUESTS", 5000);
    let incidents = env_or("BENCH_INCIDENTS", 500).max(1);
    let concurrency = env_or("BENCH_CONCURRENCY", 32).max(1);

    let redis = RedisServer::start();
    let extra = Extra {
        pagerduty: "rate_per_second = 1000000\nrate_burst = 1000000",
        ..Extra::default()
    };
    let config = Config::from_toml_str(&config_toml(&redis.url(), &extra)).expect("config");
    let app = App::build(config).await.expect("app");
    let url = format!("http://{}/webhooks/pagerduty", app.addr());

    // Distinct deliveries: a new event id each, over a fixed set of incidents.
    let template = String::from_utf8(fixture("pagerduty/incident.triggered.json")).unwrap();
    let bodies: Vec<(Vec<u8>, String)> = (0..requests)
        .map(|i| {
            let body = template
                .replace("01BZYIL05THJDFF2Y08X9SVMTU", &format!("BENCH{i:021}"))
                .replace("PFQZPSY", &format!("PB{:07}", i % incidents))
                .into_bytes();
            let signature = pd_signature(PD_SECRET, &body);
            (body, signature)
        })
        .collect();
    let work = Arc::new(Mutex::new(bodies.into_iter()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (work, client, url) = (work.clone(), client.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new(3).unwrap();
            let mut failures = Vec::new();
            loop {
                let next = work.lock().await.next();
                let Some((body, signature)) = next else { break };
                let sent = Instant::now();
                let res = client
                    .post(&url)
                    .header("x-pagerduty-signature", signature)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                latencies.record(sent.elapsed().as_micros() as u64).unwrap();
                match res {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => {}
                    Ok(r) => failures.push(r.status().to_string()),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Histogram::<u64>::new(3).unwrap();
    let mut failures = Vec::new();
    for w in workers {
        let (h, f) = w.await.unwrap();
        latencies.add(h).unwrap();
        failures.extend(f);
    }
    let elapsed = started.elapsed();

    let ms = |us: u64| Duration::from_micros(us).as_secs_f64() * 1000.0;
    println!("webhook_burst: {requests} signed PagerDuty webhooks, {incidents} incidents, concurrency {concurrency}");
    println!("  elapsed     {:.3} s", elapsed.as_secs_f64());
    println!(
        "  throughput  {:.0} webhooks/s",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency ms  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        ms(latencies.value_at_quantile(0.50)),
        ms(latencies.value_at_quantile(0.90)),
        ms(latencies.value_at_quantile(0.99)),
        ms(latencies.max())
    );
    println!("  accepted    {} of {requests}", requests - failures.len());
    app.shutdown_handle().shutdown();
    drop(redis);
    if !failures.is_empty() {
        eprintln!(
            "webhook_burst: {} webhooks not accepted, first: {}",
            failures.len(),
            failures[0]
        );
        std::process::exit(1);
    }
}
