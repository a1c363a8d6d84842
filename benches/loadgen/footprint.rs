//! Redis bytes per incident and per audit event: `MEMORY USAGE <key> SAMPLES 0` of every key of
//! the service's prefix, split by what the key holds, over the number of incidents (the
//! `incidents:all` indexes) and of audit events (the audit streams).

use std::time::{Duration, Instant};

use breakglass::store::{Store, SHARDS};
use redis::aio::MultiplexedConnection;

/// Bytes and keys of one part.
#[derive(Default, Clone, Copy, Debug)]
pub struct Part {
    pub bytes: u64,
    pub keys: usize,
}

#[derive(Default, Debug)]
pub struct Footprint {
    pub incidents: u64,
    pub events: u64,
    /// Incident hashes, the open/all indexes and the delivery (de-duplication) keys.
    pub incident: Part,
    /// Audit streams, seal streams, sequence counters and per-incident event lists.
    pub audit: Part,
    /// Everything else (bindings, schedules, leases).
    pub other: Part,
}

impl Footprint {
    pub fn per_incident(&self) -> f64 {
        self.incident.bytes as f64 / self.incidents.max(1) as f64
    }

    pub fn per_event(&self) -> f64 {
        self.audit.bytes as f64 / self.events.max(1) as f64
    }
}

/// A connection for the bench's own reads, patient with a Redis that fsyncs every write on a
/// busy disk (the client's default gives up after 500 ms).
pub async fn connect(url: &str) -> MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_response_timeout(Some(Duration::from_secs(60)));
    redis::Client::open(url)
        .expect("redis URL")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect to redis")
}

enum Kind {
    Incident,
    Audit,
    Other,
}

fn kind_of(key: &str) -> Kind {
    let audit = key.ends_with(":audit")
        || key.ends_with(":audit:seal")
        || key.ends_with(":audit:seq")
        || (key.contains(":incident:") && key.ends_with(":events"));
    let incident = key.ends_with(":incidents:open")
        || key.ends_with(":incidents:all")
        || key.contains(":seen:")
        || (key.contains(":incident:") && !key.ends_with(":bindings"));
    if audit {
        Kind::Audit
    } else if incident {
        Kind::Incident
    } else {
        Kind::Other
    }
}

async fn sum(conn: &mut MultiplexedConnection, keys: impl Fn(u16) -> redis::Cmd) -> u64 {
    let mut pipe = redis::pipe();
    for s in 0..SHARDS {
        pipe.add_command(keys(s));
    }
    let counts: Vec<u64> = pipe.query_async(conn).await.expect("counts");
    counts.iter().sum()
}

/// Audit events written, and sealed.
pub async fn events(conn: &mut MultiplexedConnection, store: &Store) -> (u64, u64) {
    let written = sum(conn, |s| {
        let mut c = redis::cmd("XLEN");
        c.arg(breakglass::audit::stream_key(store, s));
        c
    })
    .await;
    let sealed = sum(conn, |s| {
        let mut c = redis::cmd("XLEN");
        c.arg(breakglass::audit::seal_key(store, s));
        c
    })
    .await;
    (written, sealed)
}

/// Wait (up to `within`) until the service's sealer has sealed every event; false if not.
pub async fn until_sealed(
    conn: &mut MultiplexedConnection,
    store: &Store,
    within: Duration,
) -> bool {
    let started = Instant::now();
    loop {
        let (written, sealed) = events(conn, store).await;
        if sealed >= written {
            return true;
        }
        if started.elapsed() > within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every key of `prefix` with its `MEMORY USAGE ... SAMPLES 0` in bytes.
pub async fn key_sizes(conn: &mut MultiplexedConnection, prefix: &str) -> Vec<(String, u64)> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .expect("SCAN");
        keys.extend(page);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("MEMORY").arg("USAGE").arg(k).arg("SAMPLES").arg(0);
        }
        let sizes: Vec<Option<u64>> = pipe.query_async(conn).await.expect("MEMORY USAGE");
        out.extend(
            chunk
                .iter()
                .cloned()
                .zip(sizes.into_iter().map(|s| s.unwrap_or(0))),
        );
    }
    out
}

pub async fn measure(conn: &mut MultiplexedConnection, store: &Store) -> Footprint {
    let sizes = key_sizes(conn, store.prefix()).await;
    let mut out = Footprint {
        incidents: sum(conn, |s| {
            let mut c = redis::cmd("ZCARD");
            c.arg(store.key(s, "incidents:all"));
            c
        })
        .await,
        events: events(conn, store).await.0,
        ..Footprint::default()
    };
    for (k, size) in &sizes {
        let part = match kind_of(k) {
            Kind::Incident => &mut out.incident,
            Kind::Audit => &mut out.audit,
            Kind::Other => &mut out.other,
        };
        part.bytes += size;
        part.keys += 1;
    }
    out
}
