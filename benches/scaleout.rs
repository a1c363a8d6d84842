//! Webhook throughput with 1, 2 and 3 replicas of the release `breakglass serve` on a real
//! Redis Cluster (3 masters, 3 replicas, AOF `appendfsync always` on every node), beside one
//! replica on a single Redis with the same settings, all in one run on one machine. Each phase
//! sends pre-signed real-shaped deliveries of all four tools flat out over `SCALE_CONCURRENCY`
//! connections (32), split evenly over the replicas, for `SCALE_SECONDS` (10) after a one-second
//! warm-up. Prints a Markdown table: throughput, its ratio to one replica on the Cluster,
//! latency, answers, and the services' CPU time per webhook.
//!
//! `cargo bench --bench scaleout` (or `./scripts/bench scaleout`). Everything (the cluster's six
//! redis-servers, the replicas, the load generator) shares the machine's cores, so on a small
//! machine the figures show the overhead of each set-up more than how far it scales; see
//! BENCHMARKS.md.

#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../tests/integration/moto.rs"]
mod moto;

#[allow(dead_code)]
#[path = "loadgen/drive.rs"]
mod drive;
#[allow(dead_code)]
#[path = "loadgen/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "loadgen/service.rs"]
mod service;
#[allow(dead_code)]
#[path = "loadgen/webhooks.rs"]
mod webhooks;

use std::time::Duration;

use drive::{Outcome, Pace};
use harness::{cluster_url, RedisCluster, RedisServer};
use service::Service;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// Flat out against every replica at once, `connections` split evenly over them.
async fn flat_out(
    services: &[Service],
    generator: &webhooks::Generator,
    connections: usize,
    seconds: u64,
) -> Outcome {
    // More deliveries than any replica can take in the time: the deadline ends the phase.
    let per_replica = 12_000 * seconds as usize / services.len();
    let runs = services.iter().map(|svc| {
        let items = generator.batch(per_replica);
        let base = svc.base.clone();
        let share = (connections / services.len()).max(1);
        tokio::spawn(async move {
            drive::run(
                &base,
                items,
                share,
                Pace::FlatOut(Duration::from_secs(seconds)),
            )
            .await
        })
    });
    let mut all: Option<Outcome> = None;
    for run in runs.collect::<Vec<_>>() {
        let o = run.await.expect("a load task");
        all = Some(match all {
            None => o,
            Some(mut a) => {
                a.sent += o.sent;
                a.accepted += o.accepted;
                a.elapsed = a.elapsed.max(o.elapsed);
                for (k, v) in o.statuses {
                    *a.statuses.entry(k).or_default() += v;
                }
                a.latency.add(&o.latency).expect("histograms add");
                a
            }
        });
    }
    all.expect("at least one replica")
}

struct Phase {
    setup: &'static str,
    replicas: usize,
    outcome: Outcome,
    cpu_us_per_webhook: f64,
}

#[tokio::main]
async fn main() {
    let seconds = knob("SCALE_SECONDS", 10) as u64;
    let connections = knob("SCALE_CONCURRENCY", 32);
    let bin = service::binary();
    let dir = tempfile::tempdir().expect("a temp dir for configs and logs");
    let moto = moto::Moto::start();
    let generator = webhooks::Generator::new();
    eprintln!("scaleout: starting a single redis-server and a 3-master, 3-replica cluster");
    let single = RedisServer::start();
    let cluster = RedisCluster::start();

    let mut phases = Vec::new();
    for (setup, url, replicas) in [
        ("single Redis", single.url(), 1),
        ("Redis Cluster", cluster_url(&cluster), 1),
        ("Redis Cluster", cluster_url(&cluster), 2),
        ("Redis Cluster", cluster_url(&cluster), 3),
    ] {
        let config = service::config(&url, &moto.url(), "");
        let mut services = Vec::new();
        for r in 0..replicas {
            let name = format!("{}-{replicas}-{r}", setup.replace(' ', "-"));
            services.push(Service::start(&bin, dir.path(), &name, &config).await.0);
        }
        eprintln!("scaleout: {setup}, {replicas} replica(s): warm-up, then {seconds} s flat out");
        flat_out(&services, &generator, connections, 1).await;
        let cpu_before: f64 = services.iter().map(Service::cpu_seconds).sum();
        let outcome = flat_out(&services, &generator, connections, seconds).await;
        let cpu: f64 = services.iter().map(Service::cpu_seconds).sum::<f64>() - cpu_before;
        eprintln!(
            "scaleout:   {:.0}/s, answers {}",
            outcome.throughput(),
            outcome.statuses_text()
        );
        phases.push(Phase {
            setup,
            replicas,
            cpu_us_per_webhook: cpu * 1e6 / outcome.accepted.max(1) as f64,
            outcome,
        });
        for svc in services {
            svc.stop().await;
        }
    }

    let reference = phases
        .iter()
        .find(|p| p.setup == "Redis Cluster" && p.replicas == 1)
        .map(|p| p.outcome.throughput())
        .unwrap_or(1.0);
    println!(
        "\n| Redis | breakglass replicas | webhooks/s | vs 1 replica on the Cluster | p50 / p99 ms | answers | service CPU per webhook |"
    );
    println!("|---|---:|---:|---:|---|---|---:|");
    for p in &phases {
        println!(
            "| {} | {} | {} | {:.2}x | {:.2} / {:.2} | {} | {:.0} µs |",
            p.setup,
            p.replicas,
            report::thousands(p.outcome.throughput()),
            p.outcome.throughput() / reference,
            p.outcome.ms(0.5),
            p.outcome.ms(0.99),
            p.outcome.statuses_text(),
            p.cpu_us_per_webhook
        );
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "\n{cores} cores; {connections} connections split over the replicas; {seconds} s per phase; \
         command: `cargo bench --bench scaleout`"
    );
}
