//! Where the tail comes from: Redis's own latency monitor (`LATENCY HISTORY` of every event over
//! the threshold: `aof-fsync-always`, `aof-write`, `fork`, `command`, ...), its fork and AOF
//! rewrite counters, and the disk's own `fdatasync` latency measured beside Redis's files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

/// Redis reports every event slower than this.
pub const THRESHOLD_MS: u64 = 5;

/// One kind of stall over a phase: Redis keeps the slowest of each second, so `seconds` counts
/// the seconds with at least one such stall and `sum_ms` adds their worst.
#[derive(Debug, Default, Clone)]
pub struct Stall {
    pub seconds: usize,
    pub max_ms: u64,
    pub sum_ms: u64,
}

/// What Redis saw during a phase.
#[derive(Debug, Default, Clone)]
pub struct Phase {
    pub stalls: BTreeMap<String, Stall>,
    pub forks: u64,
    pub fork_ms: f64,
}

impl Phase {
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self
            .stalls
            .iter()
            .map(|(event, s)| {
                format!(
                    "`{event}` in {} s (worst {} ms, sum of worsts {} ms)",
                    s.seconds, s.max_ms, s.sum_ms
                )
            })
            .collect();
        if parts.is_empty() {
            parts.push(format!("no Redis event over {THRESHOLD_MS} ms"));
        }
        if self.forks > 0 {
            parts.push(format!(
                "{} fork(s) for AOF rewrites, the last {:.1} ms",
                self.forks, self.fork_ms
            ));
        }
        parts.join("; ")
    }
}

async fn info_field(conn: &mut MultiplexedConnection, section: &str, field: &str) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query_async(conn)
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Watches one Redis from [`Monitor::start`] to [`Monitor::finish`].
pub struct Monitor {
    forks: f64,
}

impl Monitor {
    /// Turns the latency monitor on and forgets what it saw before.
    pub async fn start(conn: &mut MultiplexedConnection) -> Monitor {
        config_set(conn, "latency-monitor-threshold", &THRESHOLD_MS.to_string()).await;
        let _: i64 = redis::cmd("LATENCY")
            .arg("RESET")
            .query_async(conn)
            .await
            .expect("LATENCY RESET");
        Monitor {
            forks: info_field(conn, "stats", "total_forks").await,
        }
    }

    pub async fn finish(self, conn: &mut MultiplexedConnection) -> Phase {
        let latest: Vec<(String, i64, i64, i64)> = redis::cmd("LATENCY")
            .arg("LATEST")
            .query_async(conn)
            .await
            .expect("LATENCY LATEST");
        let mut stalls = BTreeMap::new();
        for (event, ..) in latest {
            let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
                .arg("HISTORY")
                .arg(&event)
                .query_async(conn)
                .await
                .expect("LATENCY HISTORY");
            let ms: Vec<u64> = history.iter().map(|(_, ms)| *ms as u64).collect();
            stalls.insert(
                event,
                Stall {
                    seconds: ms.len(),
                    max_ms: ms.iter().copied().max().unwrap_or(0),
                    sum_ms: ms.iter().sum(),
                },
            );
        }
        let forks = info_field(conn, "stats", "total_forks").await;
        let fork_ms = info_field(conn, "stats", "latest_fork_usec").await / 1000.0;
        Phase {
            stalls,
            forks: (forks - self.forks).max(0.0) as u64,
            fork_ms,
        }
    }
}

/// Sets Redis's `appendfsync` (`always` or `everysec`) on the running server.
pub async fn set_fsync(conn: &mut MultiplexedConnection, mode: &str) {
    config_set(conn, "appendfsync", mode).await;
}

async fn config_set(conn: &mut MultiplexedConnection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(conn)
        .await
        .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
}

/// The disk's own latency for what `appendfsync always` does after each write: append `size`
/// bytes to a file in `dir` and `fdatasync` it, `n` times, one at a time.
pub fn disk_fsync(dir: &Path, n: usize, size: usize) -> hdrhistogram::Histogram<u64> {
    let path = dir.join("bench-fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open the fsync probe file");
    let block = vec![b'x'; size];
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("hist");
    for _ in 0..n {
        file.write_all(&block).expect("write the probe file");
        let t = Instant::now();
        file.sync_data().expect("fdatasync the probe file");
        h.saturating_record(t.elapsed().as_micros().max(1) as u64);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    h
}

/// p50 / p99 / p999 / max of a microsecond histogram, in ms.
pub fn text(h: &hdrhistogram::Histogram<u64>) -> String {
    let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "p50 {:.2} / p99 {:.2} / p999 {:.2} ms, max {:.2} ms",
        q(0.5),
        q(0.99),
        q(0.999),
        h.max() as f64 / 1000.0
    )
}

/// Gives the disk a moment between phases.
pub const SETTLE: Duration = Duration::from_secs(2);
