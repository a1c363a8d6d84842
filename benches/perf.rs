//! Benchmark: every performance figure of issue 6 in one run on one machine, against the
//! release `breakglass serve` binary as its own process, a real Redis (AOF, fsync always) and
//! moto's server, with the load generator in this process.
//!
//! 1. Baseline: redis-benchmark running the service's own webhook apply script (EVALSHA, the
//!    KEYS and ARGV of a real new-incident apply) at the load's concurrency.
//! 2. Signed-webhook throughput flat out (closed loop over `PERF_CONCURRENCY` connections), then
//!    p50/p99/p999 at fixed rates of 10%, 25% and 50% of it (open loop, latency from when each
//!    delivery was due). Real-shaped deliveries of all four tools, each a new incident,
//!    pre-signed before each phase's clock starts; answers counted by status.
//! 3. Grant latency against moto, and the service's own share (`Server-Timing: iam;dur=`).
//! 4. Resolve-to-revoked lag for `PERF_BINDINGS` bindings beside the moto floor.
//! 5. Memory: RSS idle and the peak under the load (`/proc/<pid>/status`), Redis bytes per
//!    incident and per audit event (`MEMORY USAGE`).
//! 6. Start-up: spawn to the first `200` of `/readyz`, `PERF_STARTS` times (median).
//!
//! Prints one table (figure, target, PASS/MISS) and writes it, with the machine, the date, the
//! commit and the command, as the `## Performance (issue 6)` section at the end of BENCHMARKS.md
//! (not with `PERF_WRITE=0`).
//!
//!     ./scripts/bench                       # installs Redis and moto if missing, builds, runs
//!     cargo bench --bench perf              # the same, when they are installed
//!     PERF_SECONDS=2 PERF_RATE_SECONDS=2 PERF_BASELINE_REQUESTS=2000 PERF_GRANTS=10 \
//!         PERF_BINDINGS=10 PERF_STARTS=1 cargo bench --bench perf      # a smoke run
//!
//! Sizes (environment): `PERF_CONCURRENCY` connections (32), `PERF_SECONDS` flat out (15),
//! `PERF_WEBHOOKS` pre-signed for the flat-out phase at most (150000), `PERF_RATE_SECONDS` per
//! fixed rate (20), `PERF_BASELINE_REQUESTS` (100000), `PERF_GRANTS` (200), `PERF_BINDINGS`
//! (100), `PERF_STARTS` (3). A run with any size below its default is recorded as a smoke run.
//! `PERF_WRITE=0` leaves BENCHMARKS.md alone; `PERF_KEEP_LOGS=1` keeps the service's logs.
//! Exits non-zero only when a measurement cannot be made; a missed target is reported as MISS.

#[allow(dead_code)]
#[path = "../tests/integration/elevation_support.rs"]
mod elevation_support;
#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../tests/integration/moto.rs"]
mod moto;

#[path = "loadgen/baseline.rs"]
mod baseline;
#[path = "loadgen/drive.rs"]
mod drive;
#[path = "loadgen/footprint.rs"]
mod footprint;
#[path = "loadgen/iam.rs"]
mod iam;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/service.rs"]
mod service;
#[path = "loadgen/stalls.rs"]
mod stalls;
#[path = "loadgen/webhooks.rs"]
mod webhooks;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakglass::store::Store;
use breakglass::Config;
use drive::{Outcome, Pace};
use harness::RedisServer;
use report::{thousands, Row};
use service::Service;

/// A size knob: its environment variable, its default, and the value of this run.
struct Knob {
    name: &'static str,
    default: usize,
    value: usize,
}

impl Knob {
    fn read(name: &'static str, default: usize) -> Knob {
        let value = std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
            .max(1);
        Knob {
            name,
            default,
            value,
        }
    }
}

/// The targets of issue 6.
const THROUGHPUT_VS_BASELINE: f64 = 0.35;
const P99_AT_25_MS: f64 = 10.0;
const GRANT_OWN_P50_MS: f64 = 5.0;
const LAG_VS_FLOOR: f64 = 1.5;
const RSS_LOAD_MIB: f64 = 64.0;
const RSS_IDLE_MIB: f64 = 24.0;
const READY_MS: f64 = 300.0;

const RATES: [f64; 3] = [0.10, 0.25, 0.50];

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn progress(text: &str) {
    eprintln!("perf: {text}");
}

/// Redis's own CPU seconds (user + system), from INFO.
async fn redis_cpu(conn: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .unwrap_or_default();
    ["used_cpu_sys:", "used_cpu_user:"]
        .iter()
        .filter_map(|f| {
            info.lines()
                .find_map(|l| l.strip_prefix(f))?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .sum()
}

/// "p50 1.23 / p99 4.56 / p999 7.89 ms".
fn percentiles(o: &Outcome) -> String {
    format!(
        "p50 {:.2} / p99 {:.2} / p999 {:.2} ms",
        o.ms(0.5),
        o.ms(0.99),
        o.ms(0.999)
    )
}

/// The command of this run: the size knobs that were set, and how it was started.
fn command() -> String {
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PERF_") && k != "PERF_COMMAND")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    let how = std::env::var("PERF_COMMAND").unwrap_or_else(|_| "cargo bench --bench perf".into());
    vars.push(how);
    vars.join(" ")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let concurrency = Knob::read("PERF_CONCURRENCY", 32);
    let seconds = Knob::read("PERF_SECONDS", 15);
    let webhooks = Knob::read("PERF_WEBHOOKS", 150_000);
    let rate_seconds = Knob::read("PERF_RATE_SECONDS", 20);
    let baseline_requests = Knob::read("PERF_BASELINE_REQUESTS", 100_000);
    let grants = Knob::read("PERF_GRANTS", 200);
    let bindings = Knob::read("PERF_BINDINGS", 100);
    let starts = Knob::read("PERF_STARTS", 3);
    let knobs = [
        &concurrency,
        &seconds,
        &webhooks,
        &rate_seconds,
        &baseline_requests,
        &grants,
        &bindings,
        &starts,
    ];
    let reduced: Vec<String> = knobs
        .iter()
        .filter(|k| k.value < k.default)
        .map(|k| format!("{}={} (default {})", k.name, k.value, k.default))
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started_at = chrono::Utc::now();
    let wall = Instant::now();

    let bin = service::binary();
    let dir = tempfile::tempdir().expect("a temp dir for the service's config and logs");
    progress("starting redis-server and moto");
    let redis = RedisServer::start();
    let moto = moto::Moto::start();
    let roles = iam::roles(grants.value, bindings.value);
    let config_text = service::config(&redis.url(), &moto.url(), &roles);
    let config = Config::from_toml_str(&config_text).expect("the service's config");
    let store = Store::connect(&config.redis, Default::default()).expect("store");
    let dedupe_ttl = Duration::from(config.redis.dedupe_ttl).as_secs().max(1);
    let mut conn = footprint::connect(&redis.url()).await;

    // 6. Start-up, and RSS idle: each start is timed to ready, then left idle for a second.
    let mut ready = Vec::new();
    let mut idle_kib = Vec::new();
    let mut svc = None;
    for k in 0..starts.value {
        progress(&format!("start-up {} of {}", k + 1, starts.value));
        let (s, took) = Service::start(&bin, dir.path(), &format!("start-{k}"), &config_text).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        ready.push(ms(took));
        idle_kib.push(s.memory().rss_kib as f64);
        if k + 1 == starts.value {
            svc = Some(s);
        } else {
            s.stop().await;
        }
    }
    let svc = svc.expect("a running service");
    let ready_median = median(ready.clone());
    let idle_median = median(idle_kib.clone()) / 1024.0;

    // The sample apply for the baseline: the PagerDuty trigger fixture, which also opens the
    // incident the grants are made on.
    let http = reqwest::Client::new();
    iam::open_incident(&http, &svc.base, "PFQZPSY").await;
    let sample = baseline::sample(&mut conn, &store, elevation_support::INCIDENT).await;
    let script = redis::Script::new(&baseline::script_text());
    let same: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.get_hash())
        .query_async(&mut conn)
        .await
        .expect("SCRIPT EXISTS");
    assert!(
        same.first() == Some(&true),
        "the service did not load the script this bench runs (append.lua + apply.lua): \
         src/incidents/store.rs builds it differently now; update benches/loadgen/baseline.rs"
    );

    // The disk's own fsync latency, on the filesystem of Redis's AOF, before any load.
    progress("the disk: 2000 appends of 600 bytes, each fdatasynced");
    let disk = stalls::disk_fsync(dir.path(), 2000, 600);
    progress(&format!("  {}", stalls::text(&disk)));

    // 1. Baseline.
    progress(&format!(
        "baseline: redis-benchmark, {} EVALSHA calls over {} connections",
        baseline_requests.value, concurrency.value
    ));
    let base = baseline::run(
        &sample,
        dedupe_ttl,
        concurrency.value,
        baseline_requests.value,
    )
    .await;

    // 2. Flat out, with the service's memory sampled every 50 ms and CPU time read around it.
    let generator = webhooks::Generator::new();
    progress(&format!(
        "flat out: pre-signing up to {} webhooks",
        webhooks.value
    ));
    let items = generator.batch(webhooks.value);
    progress(&format!(
        "flat out: {} s over {} connections",
        seconds.value, concurrency.value
    ));
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (peak.clone(), stop.clone(), svc.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(service::memory(pid).rss_kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let monitor = stalls::Monitor::start(&mut conn).await;
    let cpu_before = (
        svc.cpu_seconds(),
        redis_cpu(&mut conn).await,
        service::cpu_seconds(std::process::id()),
    );
    let flat = drive::run(
        &svc.base,
        items,
        concurrency.value,
        Pace::FlatOut(Duration::from_secs(seconds.value as u64)),
    )
    .await;
    let cpu_after = (
        svc.cpu_seconds(),
        redis_cpu(&mut conn).await,
        service::cpu_seconds(std::process::id()),
    );
    let flat_seen = monitor.finish(&mut conn).await;
    stop.store(true, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let flat_secs = flat.elapsed.as_secs_f64().max(1e-9);
    let cores = |a: f64, b: f64| (b - a) / flat_secs;
    let cpu = (
        cores(cpu_before.0, cpu_after.0),
        cores(cpu_before.1, cpu_after.1),
        cores(cpu_before.2, cpu_after.2),
    );
    let hwm_flat = svc.memory().hwm_kib;
    progress(&format!(
        "flat out: {}/s, {}",
        thousands(flat.throughput()),
        flat.statuses_text()
    ));

    // 2. Fixed rates, with Redis's latency monitor on: first with the AOF fsynced on every
    // write (as everywhere else in the run), then the same rates with `appendfsync everysec`.
    let mut fixed = Vec::new();
    let mut relaxed = Vec::new();
    for fsync in ["always", "everysec"] {
        stalls::set_fsync(&mut conn, fsync).await;
        for fraction in RATES {
            tokio::time::sleep(stalls::SETTLE).await;
            let rate = (flat.throughput() * fraction).max(1.0);
            let n = ((rate * rate_seconds.value as f64).ceil() as usize).max(1);
            let items = generator.batch(n);
            progress(&format!(
                "fixed rate {:.0}%, appendfsync {fsync}: {}/s for {} s",
                fraction * 100.0,
                thousands(rate),
                rate_seconds.value
            ));
            let monitor = stalls::Monitor::start(&mut conn).await;
            let out = drive::run(&svc.base, items, concurrency.value, Pace::Rate(rate)).await;
            let seen = monitor.finish(&mut conn).await;
            progress(&format!(
                "  {}; {}; {}",
                percentiles(&out),
                out.statuses_text(),
                seen.text()
            ));
            let into = if fsync == "always" {
                &mut fixed
            } else {
                &mut relaxed
            };
            into.push((fraction, rate, out, seen));
        }
    }
    stalls::set_fsync(&mut conn, "always").await;
    let hwm_load = svc.memory().hwm_kib;

    // 5. Redis bytes, once the sealer has sealed every event.
    progress("redis bytes per incident and per audit event");
    let sealed = footprint::until_sealed(&mut conn, &store, Duration::from_secs(60)).await;
    let fp = footprint::measure(&mut conn, &store).await;

    // 3. Grants.
    progress(&format!("grant latency: {} grants", grants.value));
    let g = iam::grants(&svc.base, elevation_support::INCIDENT, grants.value).await;

    // 4. Revocation lag.
    progress(&format!("revocation lag: {} bindings", bindings.value));
    let (lag, floor) = iam::revocation_lag(&svc.base, &moto, bindings.value).await;

    let end_memory = svc.memory();
    let (logged_errors, first_error) = svc.error_lines();
    let log_path = svc.log_path().to_path_buf();
    let exit = svc.stop().await;
    drop(conn);
    drop(moto);
    drop(redis);

    // The table.
    let ratio = flat.throughput() / base.rps;
    let at = |f: f64| fixed.iter().find(|(x, ..)| *x == f).expect("a fixed rate");
    let mut rows = vec![
        Row::new(
            format!(
                "1. baseline: redis-benchmark EVALSHA of the apply script, {} connections",
                base.concurrency
            ),
            format!(
                "{}/s (p50 {:.2} / p99 {:.2} ms)",
                thousands(base.rps),
                base.p50_ms,
                base.p99_ms
            ),
        ),
        Row::new(
            format!(
                "2. signed webhooks flat out, {} connections",
                concurrency.value
            ),
            format!(
                "{}/s = {:.2}x baseline ({})",
                thousands(flat.throughput()),
                ratio,
                percentiles(&flat)
            ),
        )
        .target(
            format!("≥ {THROUGHPUT_VS_BASELINE}x baseline"),
            ratio >= THROUGHPUT_VS_BASELINE,
        ),
        Row::new(
            "2. answers flat out",
            format!(
                "{} of {} not 202",
                thousands(flat.errors() as f64),
                thousands(flat.sent as f64)
            ),
        ),
    ];
    for fraction in RATES {
        let (_, rate, out, _) = at(fraction);
        let pct = fraction * 100.0;
        let figure = format!(
            "{}; {} of {} not 202",
            percentiles(out),
            thousands(out.errors() as f64),
            thousands(out.sent as f64)
        );
        let measure = format!("2. at {pct:.0}% of flat out ({}/s)", thousands(*rate));
        let row = if fraction == 0.25 {
            Row::new(measure, figure).target(
                format!("p99 < {P99_AT_25_MS} ms, no errors"),
                out.ms(0.99) < P99_AT_25_MS && out.errors() == 0,
            )
        } else {
            Row::new(measure, figure).target("no errors", out.errors() == 0)
        };
        rows.push(row);
    }
    for (fraction, rate, out, _) in &relaxed {
        rows.push(Row::new(
            format!(
                "2. at {:.0}% ({}/s), Redis `appendfsync everysec`",
                fraction * 100.0,
                thousands(*rate)
            ),
            format!(
                "{}; {} of {} not 202",
                percentiles(out),
                thousands(out.errors() as f64),
                thousands(out.sent as f64)
            ),
        ));
    }
    rows.push(Row::new(
        "2. the disk alone: append 600 B + fdatasync, one at a time",
        stalls::text(&disk),
    ));
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    rows.push(Row::new(
        format!("3. grant against moto, whole request ({} grants)", g.n),
        format!(
            "p50 {:.2} / p99 {:.2} ms (in IAM p50 {:.2} ms)",
            q(&g.total, 0.5),
            q(&g.total, 0.99),
            q(&g.iam, 0.5)
        ),
    ));
    rows.push(
        Row::new(
            "3. grant, the service's own share",
            format!("p50 {:.2} / p99 {:.2} ms", q(&g.own, 0.5), q(&g.own, 0.99)),
        )
        .target(
            format!("p50 < {GRANT_OWN_P50_MS} ms"),
            q(&g.own, 0.5) < GRANT_OWN_P50_MS,
        ),
    );
    let lag_ratio = lag.as_secs_f64() / floor.as_secs_f64();
    rows.push(
        Row::new(
            format!("4. resolve to revoked, {} bindings", bindings.value),
            format!(
                "{} ms, floor {} ms = {:.2}x",
                thousands(ms(lag)),
                thousands(ms(floor)),
                lag_ratio
            ),
        )
        .target(
            format!("≤ {LAG_VS_FLOOR}x floor"),
            lag_ratio <= LAG_VS_FLOOR,
        ),
    );
    let idle_text = if idle_kib.len() > 1 {
        let lo = idle_kib.iter().cloned().fold(f64::INFINITY, f64::min) / 1024.0;
        let hi = idle_kib.iter().cloned().fold(0.0, f64::max) / 1024.0;
        format!(
            "{idle_median:.1} MiB (median of {}: {lo:.1} to {hi:.1})",
            idle_kib.len()
        )
    } else {
        format!("{idle_median:.1} MiB")
    };
    rows.push(
        Row::new("5. RSS idle (ready + 1 s)", idle_text)
            .target(format!("< {RSS_IDLE_MIB} MiB"), idle_median < RSS_IDLE_MIB),
    );
    rows.push(
        Row::new(
            "5. RSS peak under the flat-out load (VmHWM)",
            format!(
                "{:.1} MiB (sampled every 50 ms: {:.1})",
                mib(hwm_flat),
                mib(peak.load(Ordering::Relaxed))
            ),
        )
        .target(
            format!("< {RSS_LOAD_MIB} MiB"),
            mib(hwm_flat) < RSS_LOAD_MIB,
        ),
    );
    rows.push(Row::new(
        "5. Redis bytes per incident",
        format!(
            "{} ({} incidents; hash, indexes, delivery keys)",
            thousands(fp.per_incident()),
            thousands(fp.incidents as f64)
        ),
    ));
    rows.push(Row::new(
        "5. Redis bytes per audit event",
        format!(
            "{} ({} events; streams, seals, index lists{})",
            thousands(fp.per_event()),
            thousands(fp.events as f64),
            if sealed { "" } else { "; NOT all sealed" }
        ),
    ));
    let ready_text = if ready.len() > 1 {
        let lo = ready.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = ready.iter().cloned().fold(0.0, f64::max);
        format!(
            "{ready_median:.0} ms (median of {}: {lo:.0} to {hi:.0})",
            ready.len()
        )
    } else {
        format!("{ready_median:.0} ms")
    };
    rows.push(
        Row::new("6. start-up to ready (spawn to /readyz 200)", ready_text)
            .target(format!("< {READY_MS} ms"), ready_median < READY_MS),
    );

    let met = rows.iter().filter(|r| r.met == Some(true)).count();
    let targets = rows.iter().filter(|r| r.met.is_some()).count();
    let machine = report::machine();
    let commit = report::commit(root);
    let command = command();
    println!();
    println!(
        "perf: {} on {}",
        started_at.format("%Y-%m-%d %H:%M UTC"),
        machine[0]
    );
    println!("{}", report::text_table(&rows));
    println!(
        "{met} of {targets} targets met; run took {:.0} s",
        wall.elapsed().as_secs_f64()
    );

    // Details under the table.
    let mut details = vec![
        format!(
            "Baseline: {} calls created {} new incidents, {} audit events each. Its command (long arguments abbreviated; redis-benchmark makes each `__rand_int__` a new random number per call): `{}`",
            thousands(base.requests as f64),
            thousands(base.created as f64),
            base.events_per_call,
            base.command
        ),
        format!(
            "Flat out: {} sent in {:.1} s, answers {}; CPU during it, in cores: service {:.2}, redis-server {:.2}, load generator {:.2} (of {}; moto idle); CPU time per webhook: service {:.0} µs, redis-server {:.0} µs.",
            thousands(flat.sent as f64),
            flat.elapsed.as_secs_f64(),
            flat.statuses_text(),
            cpu.0,
            cpu.1,
            cpu.2,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu.0 / flat.throughput() * 1e6,
            cpu.1 / flat.throughput() * 1e6
        ),
    ];
    for (fsync, series) in [("always", &fixed), ("everysec", &relaxed)] {
        for (fraction, rate, out, seen) in series {
            details.push(format!(
                "At {:.0}% with `appendfsync {fsync}` ({}/s offered, {}/s accepted over {:.1} s): {}, max {:.2} ms; answers {}. Redis's latency monitor (events over {} ms): {}.",
                fraction * 100.0,
                thousands(*rate),
                thousands(out.throughput()),
                out.elapsed.as_secs_f64(),
                percentiles(out),
                out.max_ms(),
                out.statuses_text(),
                stalls::THRESHOLD_MS,
                seen.text()
            ));
        }
    }
    details.push(format!(
        "Flat out, Redis's latency monitor (events over {} ms): {}.",
        stalls::THRESHOLD_MS,
        flat_seen.text()
    ));
    details.push(format!(
        "Memory: VmHWM after all the webhook phases {:.1} MiB; at the end of the run RSS {:.1} MiB, VmHWM {:.1} MiB. Redis: incident keys {} ({:.1} MiB), audit keys {} ({:.1} MiB), other keys {} ({:.1} MiB).",
        mib(hwm_load),
        mib(end_memory.rss_kib),
        mib(end_memory.hwm_kib),
        thousands(fp.incident.keys as f64),
        fp.incident.bytes as f64 / 1048576.0,
        thousands(fp.audit.keys as f64),
        fp.audit.bytes as f64 / 1048576.0,
        thousands(fp.other.keys as f64),
        fp.other.bytes as f64 / 1048576.0,
    ));
    details.push(format!(
        "The service logged {logged_errors} lines at ERROR and exited with {} on SIGTERM.",
        exit.map_or("no status (killed after 20 s)".to_string(), |c| format!(
            "code {c}"
        ))
    ));
    for d in &details {
        println!("- {d}");
    }
    if let Some(line) = first_error {
        println!("perf: the service's first ERROR line: {line}");
    }
    if std::env::var("PERF_KEEP_LOGS").is_ok_and(|v| v == "1") {
        let kept = dir.keep();
        println!(
            "perf: kept the service's configs and logs in {} (the main one: {})",
            kept.display(),
            log_path.display()
        );
    }

    if std::env::var("PERF_WRITE").is_ok_and(|v| v == "0") {
        return;
    }
    let mut section = format!("{}\n\n", report::SECTION);
    if !reduced.is_empty() {
        section.push_str(&format!(
            "**Smoke run, not a measurement**: sizes below the defaults ({}). A full run replaces \
             this section.\n\n",
            reduced.join(", ")
        ));
    }
    section.push_str(
        "All of issue 6's figures in one run on one machine: the release `breakglass serve` \
         binary as its own process, a real Redis (AOF, `appendfsync always`, as above) and \
         moto's server, with the load generator (`benches/perf.rs`, `benches/loadgen/`) on the \
         same cores. The load is real-shaped deliveries of all four tools in turn (the \
         `tests/fixtures` payload of each tool's incident-opened event, each with a new incident \
         and delivery id and the current time; PagerDuty and Grafana Incident signed, Opsgenie \
         and Grafana OnCall with their tokens), pre-signed before each phase's clock starts, \
         over keep-alive connections. Flat out is a closed loop; the fixed rates are an open \
         loop whose latency counts from when each delivery was due, so stalls are not hidden. \
         The baseline is redis-benchmark running the service's own apply script \
         (`audit/append.lua` + `incidents/apply.lua`, checked to be the one the service \
         loaded) with the keys and arguments of a real new-incident apply, on a fresh Redis \
         with the same settings.\n\n",
    );
    section.push_str(&format!(
        "Measured {} (UTC), commit {commit}, {met} of {targets} targets met:\n\n",
        started_at.format("%Y-%m-%d %H:%M")
    ));
    for m in &machine {
        section.push_str(&format!("- {m}\n"));
    }
    section.push_str(&format!("\n```sh\n{command}\n```\n\n"));
    section.push_str(&report::markdown_table(&rows));
    section.push('\n');
    for d in &details {
        section.push_str(&format!("- {d}\n"));
    }
    let path = root.join("BENCHMARKS.md");
    report::write_section(&path, &section).expect("write BENCHMARKS.md");
    println!("perf: wrote the section to {}", path.display());
}
