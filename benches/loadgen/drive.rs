//! Sending prepared webhooks to the service over `connections` HTTP/1.1 keep-alive connections
//! (one client, and so one connection, per sender), either flat out (closed loop: each sender
//! sends its next delivery as soon as the previous one is answered) or at a fixed rate (open
//! loop: delivery `i` is due at `start + i / rate`, whichever sender is free takes it, and its
//! latency counts from when it was due, so a stall that delays later sends is not hidden).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::webhooks::{Prepared, SOURCES};

/// How fast to send.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Closed loop for this long (or until the deliveries run out).
    FlatOut(Duration),
    /// Open loop at this many deliveries per second, until the deliveries run out.
    Rate(f64),
}

/// What a run did.
pub struct Outcome {
    pub sent: usize,
    /// Answered `202 Accepted`, the answer to a new, applied delivery.
    pub accepted: usize,
    /// Answers by HTTP status, and transport failures by kind.
    pub statuses: BTreeMap<String, usize>,
    /// From the start of the clock to the last answer.
    pub elapsed: Duration,
    /// Microseconds: from the send (flat out) or from when the delivery was due (fixed rate).
    pub latency: Histogram<u64>,
}

impl Outcome {
    pub fn errors(&self) -> usize {
        self.sent - self.accepted
    }

    /// Accepted deliveries per second.
    pub fn throughput(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at quantile `q`, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// "202: 1000" or "202: 990, 503: 10".
    pub fn statuses_text(&self) -> String {
        let parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if parts.is_empty() {
            "none sent".into()
        } else {
            parts.join(", ")
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// Send `items` to the service at `base` (`http://host:port`).
pub async fn run(base: &str, items: Vec<Prepared>, connections: usize, pace: Pace) -> Outcome {
    let urls: Arc<Vec<String>> = Arc::new(
        SOURCES
            .iter()
            .map(|s| format!("{base}/webhooks/{s}"))
            .collect(),
    );
    let queue = Arc::new(Mutex::new(items.into_iter().enumerate()));
    // Every sender opens its connection before the clock starts.
    let start = Instant::now() + Duration::from_millis(300);
    let deadline = match pace {
        Pace::FlatOut(d) => Some(start + d),
        Pace::Rate(_) => None,
    };
    let interval = match pace {
        Pace::Rate(r) => Some(1.0 / r.max(1e-6)),
        Pace::FlatOut(_) => None,
    };
    let mut senders = Vec::new();
    for _ in 0..connections.max(1) {
        let (urls, queue, health) = (urls.clone(), queue.clone(), format!("{base}/healthz"));
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .tcp_nodelay(true)
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client");
            if let Ok(res) = client.get(&health).send().await {
                let _ = res.bytes().await;
            }
            tokio::time::sleep_until(start.into()).await;
            let mut latency = histogram();
            let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
            let mut last = start;
            loop {
                let next = queue.lock().expect("queue").next();
                let Some((i, item)) = next else { break };
                let due = match interval {
                    Some(secs) => start + Duration::from_secs_f64(i as f64 * secs),
                    None => Instant::now(),
                };
                if deadline.is_some_and(|d| due >= d) {
                    break;
                }
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
                let mut req = client.post(&urls[item.source]).body(item.body);
                for (name, value) in item.headers {
                    req = req.header(name, value);
                }
                let key = match req.send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        // Read the answer to the end, so the connection is reused.
                        match res.bytes().await {
                            Ok(_) => status.to_string(),
                            Err(_) => format!("{status}, body cut off"),
                        }
                    }
                    Err(e) if e.is_timeout() => "timeout".into(),
                    Err(e) if e.is_connect() => "connect error".into(),
                    Err(_) => "transport error".into(),
                };
                let done = Instant::now();
                latency.saturating_record(done.saturating_duration_since(due).as_micros() as u64);
                *statuses.entry(key).or_default() += 1;
                last = done;
            }
            (latency, statuses, last)
        }));
    }
    let mut latency = histogram();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut last = start;
    for s in senders {
        let (h, st, l) = s.await.expect("sender");
        latency.add(h).expect("merge histograms");
        for (k, v) in st {
            *statuses.entry(k).or_default() += v;
        }
        last = last.max(l);
    }
    let sent = statuses.values().sum();
    let accepted = statuses.get("202").copied().unwrap_or(0);
    Outcome {
        sent,
        accepted,
        statuses,
        elapsed: last.saturating_duration_since(start),
        latency,
    }
}
