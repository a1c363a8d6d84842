//! The baseline: redis-benchmark running the service's own intake script (`audit/append.lua`
//! followed by `incidents/apply.lua`, exactly as the service loads it) with the KEYS and ARGV of
//! a real new-incident apply, at the load's concurrency, against a Redis with the same settings.
//!
//! The arguments come from a real apply: the incident's state JSON and the audit events the
//! service wrote for the sample webhook, read back from the service's Redis. Every
//! `__rand_int__` is replaced by redis-benchmark with a new random number on every call, so each
//! call creates a new incident from a new delivery.

use std::time::Duration;

use breakglass::store::Store;
use redis::aio::MultiplexedConnection;

use crate::harness::RedisServer;

/// The exact text of the service's webhook apply script.
pub fn script_text() -> String {
    format!(
        "{}\n{}",
        breakglass::audit::APPEND,
        include_str!("../../src/incidents/apply.lua")
    )
}

/// A real new-incident apply, read back from the service's Redis.
pub struct Sample {
    /// The incident id, e.g. `pagerduty:PFQZPSY`.
    pub incident: String,
    pub shard: u16,
    pub state: String,
    pub status: String,
    pub opened_ms: i64,
    /// The audit events of the apply, as the script takes them (ARGV[7]).
    pub events: String,
    pub at: String,
    pub origin: String,
}

/// Read the apply of `incident` (applied once, by one webhook) from the service's Redis.
pub async fn sample(conn: &mut MultiplexedConnection, store: &Store, incident: &str) -> Sample {
    let shard = breakglass::keyspace::of(incident);
    let key = store.key(shard, &format!("incident:{incident}"));
    let (state, status): (String, String) = redis::cmd("HMGET")
        .arg(&key)
        .arg("state")
        .arg("status")
        .query_async(conn)
        .await
        .expect("the sample incident");
    let opened: f64 = redis::cmd("ZSCORE")
        .arg(store.key(shard, "incidents:all"))
        .arg(incident)
        .query_async(conn)
        .await
        .expect("the sample incident's score");
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(breakglass::audit::stream_key(store, shard))
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .expect("the sample's audit events");
    let fields = [
        "type", "at", "actor", "source", "incident", "binding", "data",
    ];
    let events: Vec<Vec<String>> = entries
        .ids
        .iter()
        .filter(|e| e.get::<String>("incident").as_deref() == Some(incident))
        .map(|e| {
            fields
                .iter()
                .map(|f| e.get::<String>(f).unwrap_or_default())
                .collect()
        })
        .collect();
    assert!(
        !events.is_empty(),
        "no audit events for the sample incident {incident}"
    );
    let at = events[0][1].clone();
    let origin = serde_json::json!([events[0][2], events[0][3]]).to_string();
    Sample {
        incident: incident.to_string(),
        shard,
        state,
        status,
        opened_ms: opened as i64,
        events: serde_json::to_string(&events).expect("events JSON"),
        at,
        origin,
    }
}

/// What redis-benchmark measured.
pub struct Baseline {
    pub requests: usize,
    pub concurrency: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Incidents the run created (checks that the script really ran).
    pub created: u64,
    pub events_per_call: usize,
    /// The command, with the long arguments abbreviated.
    pub command: String,
}

/// Run redis-benchmark with the script on a fresh Redis (the same settings as the service's).
pub async fn run(
    sample: &Sample,
    dedupe_ttl_secs: u64,
    concurrency: usize,
    requests: usize,
) -> Baseline {
    let redis = RedisServer::start();
    let mut conn = crate::footprint::connect(&redis.url()).await;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(script_text())
        .query_async(&mut conn)
        .await
        .expect("SCRIPT LOAD");

    // The sample's incident id, in every argument, becomes a new one each call.
    let native = sample
        .incident
        .split_once(':')
        .map(|(_, n)| n)
        .expect("source:native");
    let (source, _) = sample.incident.split_once(':').unwrap();
    let new_native = "PB__rand_int__";
    let incident = format!("{source}:{new_native}");
    let key = |rest: &str| format!("bgbase:{{{}}}:{rest}", sample.shard);
    let keys = [
        key(&format!("incident:{incident}")),
        key("incidents:open"),
        key("incidents:all"),
        key("audit"),
        key(&format!("incident:{incident}:bindings")),
        key("schedule"),
        key(&format!("seen:{source}:event:E__rand_int__")),
    ];
    let now_ms = chrono::Utc::now().timestamp_millis();
    let args = vec![
        "0".to_string(),
        sample.state.replace(native, new_native),
        sample.status.clone(),
        incident.clone(),
        sample.opened_ms.to_string(),
        dedupe_ttl_secs.to_string(),
        sample.events.replace(native, new_native),
        sample.at.clone(),
        sample.origin.clone(),
        key("binding:"),
        now_ms.to_string(),
        "[]".to_string(),
    ];
    let events_per_call = serde_json::from_str::<Vec<serde_json::Value>>(&sample.events)
        .map(|v| v.len())
        .unwrap_or(0);

    // One call by hand first: it must apply (a script error would not stop redis-benchmark).
    let once = |s: &String| s.replace("__rand_int__", "check");
    let reply: Vec<redis::Value> = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(keys.len())
        .arg(keys.iter().map(once).collect::<Vec<_>>())
        .arg(args.iter().map(once).collect::<Vec<_>>())
        .query_async(&mut conn)
        .await
        .expect("the apply script on the baseline's Redis");
    assert!(
        matches!(reply.first(), Some(redis::Value::BulkString(b)) if b == b"applied"),
        "the apply script did not apply: {reply:?}"
    );

    let mut argv: Vec<String> = vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        redis.port.to_string(),
        "-c".into(),
        concurrency.to_string(),
        "-n".into(),
        requests.to_string(),
        // A keyspace far larger than the run, so calls almost never meet an earlier incident.
        "-r".into(),
        "1000000000".into(),
        "--csv".into(),
        "EVALSHA".into(),
        sha.clone(),
        keys.len().to_string(),
    ];
    argv.extend(keys.iter().cloned());
    argv.extend(args.iter().cloned());
    let command = {
        let short: Vec<String> = argv
            .iter()
            .map(|a| {
                if a.len() > 40 {
                    format!("'<{} bytes>'", a.len())
                } else {
                    a.clone()
                }
            })
            .collect();
        format!("redis-benchmark {}", short.join(" "))
    };
    let out = tokio::process::Command::new("redis-benchmark")
        .args(&argv)
        .output()
        .await
        .expect("run redis-benchmark (it comes with Redis: apt-get install redis-tools)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-benchmark failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CSV's last line: the title (the command, which may hold commas and quotes), then
    // rps, avg, min, p50, p95, p99, max.
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('"'))
        .unwrap_or_else(|| panic!("no CSV result from redis-benchmark: {stdout}"));
    let numbers: Vec<f64> = line
        .rsplit(',')
        .take(7)
        .map(|f| f.trim().trim_matches('"').parse().unwrap_or(f64::NAN))
        .collect();
    let [max, p99, _p95, p50, _min, _avg, rps] = numbers[..] else {
        panic!("unexpected redis-benchmark output: {line}")
    };
    let _ = max;

    let created: u64 = redis::cmd("ZCARD")
        .arg(key("incidents:all"))
        .query_async(&mut conn)
        .await
        .expect("ZCARD");
    let created = created.saturating_sub(1);
    assert!(
        created as f64 >= requests as f64 * 0.99,
        "redis-benchmark's calls created {created} incidents of {requests}: the script failed"
    );
    drop(conn);
    // Let the server finish its fsyncs before it is killed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(redis);
    Baseline {
        requests,
        concurrency,
        rps,
        p50_ms: p50,
        p99_ms: p99,
        created,
        events_per_call,
        command,
    }
}
