//! Benchmark: the audit trail at volume, against the real service and a real Redis.
//!
//! 1. Load: signed PagerDuty webhooks (real fixtures, each with its own event id and time) over
//!    `BENCH_INCIDENTS` incidents (default 2000) from `BENCH_CONCURRENCY` clients (default 32),
//!    until the 16 audit streams hold `BENCH_EVENTS` entries (default 100,000). Each incident
//!    goes round a lifecycle (triggered, acknowledged, reassigned, unacknowledged, resolved,
//!    reopened), so every event is written by the real scripts with its real size and mix.
//! 2. Sealing: the lag of the app's own sealer after the load; then, with the app stopped, the
//!    seal streams deleted and sealed again from scratch by `seal_shard` with the real key.
//! 3. Size: `MEMORY USAGE` of every audit key per event, `used_memory` and AOF growth per event
//!    (the AOF's audit commands told apart from the rest), and the export's bytes per event.
//! 4. Reading: `GET /v1/audit` over the whole range, streamed, 3 runs; beside it the raw
//!    `XRANGE` of every shard's stream in pages of 500 (the baseline); and `audit verify`.
//!
//! Run it with:
//!
//!     cargo bench --bench audit_trail
//!     BENCH_EVENTS=5000 cargo bench --bench audit_trail      # a quick run
//!
//! Exits non-zero if a webhook is refused, the export's line count differs from the number of
//! events, or verify finds a break. Everything shares the machine's cores with redis-server.

#[allow(dead_code)]
#[path = "loadgen/footprint.rs"]
mod footprint;
#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakglass::audit::{sealer, verify};
use breakglass::secret::Secret;
use breakglass::store::{Store, SHARDS};
use breakglass::{App, Config};
use chrono::{DateTime, Utc};
use harness::{
    config_toml, fixture, pd_signature, Extra, RedisServer, ADMIN_TOKEN, AUDIT_KEY, PD_SECRET,
};
use redis::aio::MultiplexedConnection;
use redis::streams::StreamRangeReply;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The PagerDuty lifecycle each incident goes round: fixture, its event id, its incident id,
/// its `occurred_at`.
const LIFECYCLE: [(&str, &str, &str, &str); 6] = [
    (
        "incident.triggered",
        "01BZYIL05THJDFF2Y08X9SVMTU",
        "PFQZPSY",
        "2021-06-04T13:35:29.781Z",
    ),
    (
        "incident.acknowledged",
        "01BZYK8N47N5JG55J1EEEHPEJI",
        "PQ1K5C8",
        "2021-06-04T13:55:30.394Z",
    ),
    (
        "incident.reassigned",
        "01BZY282OVDQMFPDC3VB98DR1L",
        "PIQUG8X",
        "2021-06-04T10:17:54.838Z",
    ),
    (
        "incident.unacknowledged",
        "01BZYK5B3WC0QI62S87MJX7FCD",
        "PQ1K5C8",
        "2021-06-04T13:54:23.185Z",
    ),
    (
        "incident.resolved",
        "01BZYH1JJY09P9LEIST8HG2PMN",
        "PCPZE64",
        "2021-06-04T13:16:53.816Z",
    ),
    (
        "incident.reopened",
        "01GI0KHLHVH4YZ44BJY1VLT6F2",
        "Q05XJA8GDXGOB3",
        "2026-04-01T02:15:02.274Z",
    ),
];

/// Fixture bodies with placeholders for the event id, the incident id and the time.
fn templates() -> Vec<String> {
    LIFECYCLE
        .iter()
        .map(|(name, event, incident, at)| {
            let text = String::from_utf8(fixture(&format!("pagerduty/{name}.json"))).unwrap();
            for needle in [event, incident, at] {
                assert!(text.contains(needle), "{name}: no {needle}");
            }
            text.replace(event, "@EVENT@")
                .replace(incident, "@INCIDENT@")
                .replace(at, "@AT@")
        })
        .collect()
}

/// The `i`-th delivery: incident `i % incidents`, at step `i / incidents` of its lifecycle,
/// one second after its previous step.
fn delivery(templates: &[String], i: usize, incidents: usize, base: DateTime<Utc>) -> Vec<u8> {
    let round = i / incidents;
    let at = base + chrono::Duration::seconds(round as i64);
    templates[round % templates.len()]
        .replace("@EVENT@", &format!("AUDITBENCH{i:016}"))
        .replace("@INCIDENT@", &format!("PB{:07}", i % incidents))
        .replace("@AT@", &breakglass::audit::rfc3339(at))
        .into_bytes()
}

async fn query<T: redis::FromRedisValue>(conn: &mut MultiplexedConnection, cmd: &redis::Cmd) -> T {
    cmd.query_async(conn).await.expect("redis command")
}

/// Entries across the 16 audit streams.
async fn total_events(conn: &mut MultiplexedConnection, store: &Store) -> usize {
    let mut pipe = redis::pipe();
    for s in 0..SHARDS {
        pipe.cmd("XLEN")
            .arg(breakglass::audit::stream_key(store, s));
    }
    let lens: Vec<usize> = pipe.query_async(conn).await.expect("XLEN");
    lens.iter().sum()
}

/// A field of `INFO <section>`.
async fn info_field(conn: &mut MultiplexedConnection, section: &str, field: &str) -> u64 {
    let text: String = query(conn, redis::cmd("INFO").arg(section)).await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

/// The AOF directory of the server.
async fn aof_dir(conn: &mut MultiplexedConnection) -> PathBuf {
    let dir: Vec<String> = query(conn, redis::cmd("CONFIG").arg("GET").arg("dir")).await;
    let name: Vec<String> = query(conn, redis::cmd("CONFIG").arg("GET").arg("appenddirname")).await;
    Path::new(&dir[1]).join(&name[1])
}

/// The incremental AOF file and its length now (the base file does not change: rewrites are off).
fn aof_incr(dir: &Path) -> (PathBuf, u64) {
    let path = std::fs::read_dir(dir)
        .expect("AOF dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .max()
        .expect("an incremental AOF file");
    let len = std::fs::metadata(&path).expect("AOF file").len();
    (path, len)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("AOF dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// What an audit key is.
fn part_of(key: &str) -> &'static str {
    if key.ends_with(":audit") {
        "stream"
    } else if key.ends_with(":audit:seal") {
        "seal"
    } else if key.ends_with(":audit:seq") {
        "seq"
    } else if key.contains(":incident:") && key.ends_with(":events") {
        "index"
    } else {
        "other"
    }
}

/// Bytes of the AOF's commands (RESP arrays of bulk strings) by the part of the trail whose key
/// they write; commands without a key (MULTI, EXEC, SELECT) and other keys count as "other".
fn aof_by_part(bytes: &[u8]) -> BTreeMap<&'static str, u64> {
    fn line(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = at + bytes.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((&bytes[at..end], end + 2))
    }
    fn number(text: &[u8]) -> Option<usize> {
        std::str::from_utf8(text).ok()?.parse().ok()
    }
    let mut out = BTreeMap::new();
    let mut at = 0;
    // A command cut off at the end (written while we read) is left out.
    'commands: while at < bytes.len() {
        let start = at;
        let Some((head, next)) = line(bytes, at) else {
            break;
        };
        let Some(argc) = head.strip_prefix(b"*").and_then(number) else {
            panic!("AOF: expected an array at byte {at}")
        };
        at = next;
        let mut args: Vec<&[u8]> = Vec::new();
        for _ in 0..argc {
            let Some((head, next)) = line(bytes, at) else {
                break 'commands;
            };
            let len = head.strip_prefix(b"$").and_then(number).expect("AOF bulk");
            if next + len + 2 > bytes.len() {
                break 'commands;
            }
            args.push(&bytes[next..next + len]);
            at = next + len + 2;
        }
        let part = if args.len() > 1 {
            part_of(&String::from_utf8_lossy(args[1]))
        } else {
            "other"
        };
        *out.entry(part).or_default() += (at - start) as u64;
    }
    out
}

/// `MEMORY USAGE ... SAMPLES 0` of every key of the prefix, by part.
async fn memory_by_part(
    conn: &mut MultiplexedConnection,
    prefix: &str,
) -> BTreeMap<&'static str, (u64, usize)> {
    let mut out: BTreeMap<&'static str, (u64, usize)> = BTreeMap::new();
    for (k, size) in footprint::key_sizes(conn, prefix).await {
        let e = out.entry(part_of(&k)).or_default();
        e.0 += size;
        e.1 += 1;
    }
    out
}

/// The raw read of every shard's stream `key(shard)` in pages of 500: entries read.
async fn raw_read(
    conn: &mut MultiplexedConnection,
    store: &Store,
    key: impl Fn(&Store, u16) -> String,
) -> usize {
    let mut n = 0;
    for shard in 0..SHARDS {
        let key = key(store, shard);
        let mut after = "-".to_string();
        loop {
            let page: StreamRangeReply = query(
                conn,
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(&after)
                    .arg("+")
                    .arg("COUNT")
                    .arg(500),
            )
            .await;
            n += page.ids.len();
            match page.ids.last() {
                Some(last) if page.ids.len() == 500 => after = format!("({}", last.id),
                _ => break,
            }
        }
    }
    n
}

/// Lines and bytes of one streamed export, and how long it took.
async fn export(client: &reqwest::Client, url: &str) -> (usize, u64, Duration) {
    let started = Instant::now();
    let mut res = client
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET /v1/audit");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "GET /v1/audit");
    let (mut lines, mut bytes) = (0usize, 0u64);
    while let Some(chunk) = res.chunk().await.expect("export body") {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        bytes += chunk.len() as u64;
    }
    (lines, bytes, started.elapsed())
}

fn min_med_max(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[0], xs[xs.len() / 2], xs[xs.len() - 1])
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let target = env_or("BENCH_EVENTS", 100_000).max(1);
    let incidents = env_or("BENCH_INCIDENTS", 2000).max(1);
    let concurrency = env_or("BENCH_CONCURRENCY", 32).max(1);
    let mut failed = Vec::<String>::new();

    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    // An AOF rewrite would fold the log into a new base mid-run; growth is measured without.
    let _: () = query(
        &mut conn,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("auto-aof-rewrite-percentage")
            .arg(0),
    )
    .await;
    // The service's default seal interval (200 ms), with the test key.
    let tail = format!("[audit]\nkey = \"{AUDIT_KEY}\"\n");
    let extra = Extra {
        pagerduty: "rate_per_second = 1000000\nrate_burst = 1000000",
        tail: &tail,
        ..Extra::default()
    };
    let config = Config::from_toml_str(&config_toml(&redis.url(), &extra)).expect("config");
    let store = Store::connect(&config.redis, Default::default()).expect("store");
    let prefix = config.redis.prefix.clone();
    let key = Secret::new(AUDIT_KEY);
    let app = App::build(config.clone()).await.expect("app");
    let webhook_url = format!("http://{}/webhooks/pagerduty", app.addr());

    let aof = aof_dir(&mut conn).await;
    let used_before = info_field(&mut conn, "memory", "used_memory").await;
    let aof_dir_before = dir_bytes(&aof);
    let (aof_file, aof_offset) = aof_incr(&aof);
    let events_before = total_events(&mut conn, &store).await;
    assert_eq!(events_before, 0, "a fresh Redis holds no audit events");

    // 1. Load.
    let templates = Arc::new(templates());
    let base = Utc::now() - chrono::Duration::days(1);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let load_started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (templates, next, stop, http, url) = (
            templates.clone(),
            next.clone(),
            stop.clone(),
            http.clone(),
            webhook_url.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = delivery(&templates, i, incidents, base);
                let res = http
                    .post(&url)
                    .header("x-pagerduty-signature", pd_signature(PD_SECRET, &body))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => {}
                    Ok(r) => failures.push(r.status().to_string()),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            failures
        }));
    }
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if total_events(&mut conn, &store).await >= target {
            stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    let mut refused = Vec::new();
    for w in workers {
        refused.extend(w.await.unwrap());
    }
    let load_time = load_started.elapsed();
    // Every index taken was sent: a worker checks `stop` before taking one.
    let sent = next.load(Ordering::Relaxed);
    let events = total_events(&mut conn, &store).await;
    if !refused.is_empty() {
        failed.push(format!(
            "{} webhooks not accepted, first: {}",
            refused.len(),
            refused[0]
        ));
    }

    // 2a. The app's sealer catching up.
    let mut behind = 0;
    for shard in 0..SHARDS {
        behind += sealer::unsealed(&store, shard).await.expect("unsealed");
    }
    let lag_started = Instant::now();
    loop {
        let mut work = false;
        for shard in 0..SHARDS {
            work |= sealer::has_work(&store, shard).await.expect("has_work");
        }
        if !work {
            break;
        }
        assert!(
            lag_started.elapsed() < Duration::from_secs(600),
            "the app's sealer did not catch up within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seal_lag = lag_started.elapsed();
    // Stop the app: nothing else writes while the trail is measured and re-sealed.
    let handle = app.shutdown_handle();
    handle.shutdown();
    app.wait().await.expect("app stops");
    let events_after = total_events(&mut conn, &store).await;
    assert_eq!(
        events, events_after,
        "audit events were written after the load"
    );

    // 3. Size.
    let memory = memory_by_part(&mut conn, &prefix).await;
    let used_after = info_field(&mut conn, "memory", "used_memory").await;
    let aof_dir_after = dir_bytes(&aof);
    let aof_tail = {
        let bytes = std::fs::read(&aof_file).expect("AOF file");
        aof_by_part(&bytes[aof_offset as usize..])
    };
    let mut types: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for shard in 0..SHARDS {
        let key = breakglass::audit::stream_key(&store, shard);
        let mut after = "-".to_string();
        loop {
            let page: StreamRangeReply = query(
                &mut conn,
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(&after)
                    .arg("+")
                    .arg("COUNT")
                    .arg(1000),
            )
            .await;
            for e in &page.ids {
                let kind = e.get::<String>("type").unwrap_or_default();
                let data = e.get::<String>("data").unwrap_or_default();
                let t = types.entry(kind).or_default();
                t.0 += 1;
                t.1 += data.len();
            }
            match page.ids.last() {
                Some(last) if page.ids.len() == 1000 => after = format!("({}", last.id),
                _ => break,
            }
        }
    }

    // 2b. Sealing from scratch, the app stopped: delete every seal, then seal every shard.
    let mut pipe = redis::pipe();
    for shard in 0..SHARDS {
        pipe.cmd("DEL")
            .arg(breakglass::audit::seal_key(&store, shard))
            .ignore();
    }
    let _: () = pipe.query_async(&mut conn).await.expect("DEL seals");
    let seal_started = Instant::now();
    let mut resealed = 0;
    for shard in 0..SHARDS {
        loop {
            let n = sealer::seal_shard(&store, shard, Some(&key))
                .await
                .expect("seal_shard");
            resealed += n;
            if n < sealer::BATCH {
                break;
            }
        }
    }
    let seal_time = seal_started.elapsed();
    if resealed != events {
        failed.push(format!("sealed {resealed} of {events} events from scratch"));
    }

    // 4a. Verify.
    let verify_started = Instant::now();
    let report = verify::verify(&store, Some(&key)).await.expect("verify");
    let verify_time = verify_started.elapsed();
    if !report.is_intact() {
        failed.push(format!(
            "verify found a break: {}",
            report.broken().next().unwrap()
        ));
    }
    if report.sealed() as usize != events || report.unsealed() != 0 {
        failed.push(format!(
            "verify: {} sealed, {} unsealed, of {events}",
            report.sealed(),
            report.unsealed()
        ));
    }

    // 4b. Raw reads (the baseline) and the export, three runs each, the app up again.
    let app = App::build(config).await.expect("app restarts");
    let since = breakglass::audit::rfc3339(Utc::now() - chrono::Duration::hours(1) - load_time);
    let until = breakglass::audit::rfc3339(Utc::now() + chrono::Duration::seconds(1));
    let export_url = format!("http://{}/v1/audit?since={since}&until={until}", app.addr());
    let http = reqwest::Client::new();
    let (mut raw, mut raw_sealed, mut exports) = (Vec::new(), Vec::new(), Vec::new());
    let mut export_bytes = 0;
    for run in 0..3 {
        let started = Instant::now();
        let n = raw_read(&mut conn, &store, breakglass::audit::stream_key).await;
        raw.push(events as f64 / secs(started.elapsed()));
        assert_eq!(n, events, "raw read");
        let started = Instant::now();
        let n = raw_read(&mut conn, &store, breakglass::audit::stream_key).await
            + raw_read(&mut conn, &store, breakglass::audit::seal_key).await;
        raw_sealed.push(events as f64 / secs(started.elapsed()));
        assert_eq!(n, 2 * events, "raw read with seals");
        let (lines, bytes, took) = export(&http, &export_url).await;
        if lines != events {
            failed.push(format!(
                "export run {}: {lines} lines for {events} events",
                run + 1
            ));
        }
        export_bytes = bytes;
        exports.push((secs(took), bytes));
    }
    app.shutdown_handle().shutdown();
    app.wait().await.expect("app stops");

    // The table.
    let per = |bytes: u64| bytes as f64 / events as f64;
    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!(
        "audit_trail: {events} audit events from {} signed PagerDuty webhooks (real webhook path), \
         {incidents} incidents, {concurrency} clients",
        sent
    );
    println!("\n  load");
    println!(
        "    elapsed {:.1} s: {:.0} webhooks/s, {:.0} events/s; {} refused",
        secs(load_time),
        sent as f64 / secs(load_time),
        events as f64 / secs(load_time),
        refused.len()
    );
    println!(
        "    {:<30} {:>8} {:>14}",
        "event type", "events", "avg data B"
    );
    for (kind, (n, data)) in &types {
        println!("    {kind:<30} {n:>8} {:>14.0}", *data as f64 / *n as f64);
    }
    println!("\n  sealing");
    println!(
        "    app sealer (200 ms interval): {behind} unsealed at the end of the load, all sealed {:.2} s later",
        secs(seal_lag)
    );
    println!(
        "    seal_shard from scratch, app stopped: {resealed} events in {:.2} s = {:.0} events/s",
        secs(seal_time),
        resealed as f64 / secs(seal_time)
    );
    println!("\n  bytes per event");
    println!(
        "    {:<34} {:>8} {:>12} {:>10}",
        "part", "keys", "bytes", "B/event"
    );
    let mut audit_total = 0;
    for part in ["stream", "seal", "index", "seq"] {
        let (bytes, keys) = memory.get(part).copied().unwrap_or_default();
        audit_total += bytes;
        println!(
            "    {:<34} {keys:>8} {bytes:>12} {:>10.1}",
            format!("MEMORY USAGE {part}"),
            per(bytes)
        );
    }
    println!(
        "    {:<34} {:>8} {audit_total:>12} {:>10.1}",
        "MEMORY USAGE audit total",
        "",
        per(audit_total)
    );
    let (other, other_keys) = memory.get("other").copied().unwrap_or_default();
    println!(
        "    {:<34} {other_keys:>8} {other:>12} {:>10.1}",
        "MEMORY USAGE other keys",
        per(other)
    );
    let used = used_after.saturating_sub(used_before);
    println!(
        "    {:<34} {:>8} {used:>12} {:>10.1}",
        "used_memory delta (all)",
        "",
        per(used)
    );
    let aof_growth = aof_dir_after - aof_dir_before;
    let aof_audit: u64 = ["stream", "seal", "index", "seq"]
        .iter()
        .map(|p| aof_tail.get(p).copied().unwrap_or(0))
        .sum();
    println!(
        "    {:<34} {:>8} {aof_growth:>12} {:>10.1}",
        "AOF growth (all writes)",
        "",
        per(aof_growth)
    );
    for part in ["stream", "seal", "index", "seq", "other"] {
        let bytes = aof_tail.get(part).copied().unwrap_or(0);
        println!(
            "    {:<34} {:>8} {bytes:>12} {:>10.1}",
            format!("  AOF commands on {part}"),
            "",
            per(bytes)
        );
    }
    println!(
        "    {:<34} {:>8} {aof_audit:>12} {:>10.1}",
        "  AOF audit total",
        "",
        per(aof_audit)
    );
    println!(
        "    {:<34} {:>8} {export_bytes:>12} {:>10.1}",
        "export NDJSON line",
        "",
        per(export_bytes)
    );
    println!("\n  reading {events} events (3 runs: min / median / max)");
    let (a, b, c) = min_med_max(raw.clone());
    println!("    raw XRANGE, audit streams (baseline)  {a:>9.0} {b:>9.0} {c:>9.0} events/s");
    let (a2, b2, c2) = min_med_max(raw_sealed);
    println!("    raw XRANGE, audit + seal streams      {a2:>9.0} {b2:>9.0} {c2:>9.0} events/s");
    let rates: Vec<f64> = exports.iter().map(|(t, _)| events as f64 / t).collect();
    let (ea, eb, ec) = min_med_max(rates);
    println!("    GET /v1/audit                         {ea:>9.0} {eb:>9.0} {ec:>9.0} events/s");
    let mbs: Vec<f64> = exports
        .iter()
        .map(|(t, bytes)| mib(*bytes as f64) / t)
        .collect();
    let (ma, mb, mc) = min_med_max(mbs);
    println!("    GET /v1/audit                         {ma:>9.1} {mb:>9.1} {mc:>9.1} MiB/s");
    println!("    export / baseline (medians)           {:>9.2}x", eb / b);
    println!(
        "    audit verify (one run)                {:>9.0} events/s ({:.2} s)",
        events as f64 / secs(verify_time),
        secs(verify_time)
    );
    println!(
        "\n  retention: {:.0} events per GiB of Redis memory (audit keys), {:.0} per GiB of AOF (audit commands)",
        (1u64 << 30) as f64 / per(audit_total),
        (1u64 << 30) as f64 / per(aof_audit)
    );
    drop(redis);
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("audit_trail: FAILED: {f}");
        }
        std::process::exit(1);
    }
}
