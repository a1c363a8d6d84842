//! Failover under load: three breakglass replicas share a Redis Cluster (or Redis Sentinel) and
//! one IAM (moto). A steady stream of webhooks and elevations goes through all three, and the
//! Redis master that holds the incident is SIGKILLed mid-stream. Webhooks answer 202 (or
//! `200 duplicate`) or 503, elevations 201 or 5xx (fail closed); afterwards every acknowledged
//! webhook is in state, every granted binding is there, no role outlives its incident or its
//! expiry, and the audit chain verifies. `wait_replicas = 1`: an acknowledgement means a replica
//! had the write before the master died.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::elevation_support::*;
use crate::harness::*;
use crate::moto::Moto;
use crate::revocation_durability::{
    assert_no_role_outlives_its_incident_or_expiry, replica_config, until_no_roles, InProcess,
};

const REPLICAS: usize = 3;
/// Roles `bulk-0` ..: one per elevation of the stream.
const ROLES: usize = 400;
/// How long after its expiry a role may still be in IAM: the scheduler's revocation lag (the
/// elevation tests hold it under 2 s), with room for a busy test machine.
const EXPIRY_LAG: Duration = Duration::from_secs(5);
/// The short grants' duration.
const SHORT: Duration = Duration::from_secs(4);

/// The Redis set-up the master is killed in.
enum Set {
    Cluster(RedisCluster),
    Sentinel(RedisSentinel),
}

impl Set {
    fn url(&self) -> String {
        match self {
            Set::Cluster(cluster) => cluster_url(cluster),
            Set::Sentinel(set) => set.url(),
        }
    }

    /// The master that holds `incident`'s shard now.
    fn master_of(&self, incident: &str) -> u16 {
        match self {
            Set::Cluster(cluster) => {
                let shard = breakglass::keyspace::of(incident);
                cluster.master_of_slot(cluster.slot_of(&format!("bgtest:{{{shard}}}:x")))
            }
            Set::Sentinel(set) => set.master(),
        }
    }

    fn kill(&mut self, port: u16) {
        match self {
            Set::Cluster(cluster) => cluster.kill(port),
            Set::Sentinel(set) => set.kill(port),
        }
    }

    /// Bring the killed master back, as a replica of the master that replaced it, as an
    /// operator would: with `wait_replicas = 1` the new master refuses writes until then.
    fn bring_back(&mut self, port: u16) {
        match self {
            Set::Cluster(cluster) => cluster.restart(port),
            Set::Sentinel(set) => set.restart_as_replica(port),
        }
    }
}

/// What the stream got back.
#[derive(Default)]
struct Outcome {
    /// Incidents whose trigger was acknowledged.
    acknowledged: Vec<String>,
    webhooks_refused: usize,
    /// Bindings granted (201), with their duration.
    granted: Vec<(String, &'static str)>,
    elevations_refused: usize,
}

/// A webhook sent until it is acknowledged, as a tool retries.
async fn until_acknowledged(replicas: &InProcess, body: &[u8], within: Duration) {
    let started = Instant::now();
    loop {
        let (status, answer) = replicas.replicas.pagerduty_answer(0, body).await;
        if status.is_success() {
            return;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
        assert!(started.elapsed() < within, "not acknowledged in {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn admin_get(replicas: &InProcess, path: &str) -> (StatusCode, Value) {
    let res = replicas
        .replicas
        .http
        .get(format!("{}{path}", replicas.replicas.urls[1]))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("api request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn failover_under_load(mut set: Set) {
    let moto = Moto::start();
    let config = replica_config(&set.url(), "wait_replicas = 1", &moto, ROLES, "");
    let replicas = InProcess::start(&config, REPLICAS).await;
    // The incident every elevation is on, alice assigned.
    until_acknowledged(
        &replicas,
        &fixture("pagerduty/incident.triggered.json"),
        Duration::from_secs(10),
    )
    .await;
    let old = set.master_of(INCIDENT);

    let mut out = Outcome::default();
    let started = Instant::now();
    let mut killed: Option<Instant> = None;
    let mut promoted = false;
    let mut streak = 0;
    for n in 0usize.. {
        // A new incident through replica n % 3...
        let native = format!("PFAIL{n:03}");
        let body = new_trigger(&native, &format!("EVF{n:05}"));
        let (status, answer) = replicas
            .replicas
            .pagerduty_answer(n % REPLICAS, &body)
            .await;
        match status {
            StatusCode::ACCEPTED | StatusCode::OK => {
                out.acknowledged.push(native);
                streak += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                out.webhooks_refused += 1;
                streak = 0;
            }
            other => panic!("webhook {n}: {other} {answer}"),
        }
        // ... and every other round an elevation through the next replica: one hour, or a
        // few seconds, so that some grants end by expiry around the failover.
        if n % 2 == 0 && n / 2 < ROLES {
            let duration = if n % 4 == 0 { "1h" } else { "4s" }; // "4s" is SHORT
            let res = replicas
                .replicas
                .http
                .post(format!(
                    "{}/v1/elevations",
                    replicas.replicas.urls[(n + 1) % REPLICAS]
                ))
                .bearer_auth(ALICE_TOKEN)
                .json(
                    &json!({"incident": INCIDENT, "role": format!("bulk-{}", n / 2),
                    "duration": duration, "reason": "checkout is down"}),
                )
                .send()
                .await
                .expect("elevation request");
            let status = res.status();
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            if status == StatusCode::CREATED {
                let id = answer["id"].as_str().expect("binding id").to_string();
                out.granted.push((id, duration));
            } else {
                assert!(status.is_server_error(), "elevation {n}: {status} {answer}");
                out.elevations_refused += 1;
                streak = 0;
            }
        }
        if killed.is_none() && started.elapsed() > Duration::from_secs(1) {
            set.kill(old);
            killed = Some(Instant::now());
            streak = 0;
        }
        if let Some(at) = killed {
            if !promoted && n % 5 == 0 && set.master_of(INCIDENT) != old {
                promoted = true;
                set.bring_back(old);
                streak = 0;
            }
            if promoted && streak >= 20 {
                break;
            }
            assert!(
                at.elapsed() < Duration::from_secs(60),
                "no failover within 60 s ({} webhooks and {} elevations refused)",
                out.webhooks_refused,
                out.elevations_refused
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "failover: {} webhooks acknowledged, {} refused; {} elevations granted, {} refused",
        out.acknowledged.len(),
        out.webhooks_refused,
        out.granted.len(),
        out.elevations_refused
    );
    assert!(out.acknowledged.len() > 20 && out.granted.len() > 5);

    // Every acknowledged webhook is in state, whichever replica took it.
    for native in &out.acknowledged {
        let (status, read) =
            admin_get(&replicas, &format!("/v1/incidents/pagerduty:{native}")).await;
        assert_eq!(status, StatusCode::OK, "pagerduty:{native}: {read}");
    }
    // Every granted binding is there; the roles in IAM now all belong to open incidents, and
    // no short grant's role is left past its expiry (once the revocation lag is over).
    for (id, _) in &out.granted {
        let (status, read) = admin_get(&replicas, &format!("/v1/elevations/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id}: {read}");
    }
    // Every short grant is then past its expiry by more than the lag.
    tokio::time::sleep(SHORT + EXPIRY_LAG).await;
    let now = chrono::Utc::now();
    for role in moto.roles_under("/breakglass/").await {
        let Some(tags) = moto.role_tags(&role).await else {
            continue;
        };
        let expires = tags
            .get("breakglass:expires-at")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if expires.is_some_and(|e| e <= now) {
            let binding = tags.get("breakglass:binding").cloned().unwrap_or_default();
            let (_, read) = admin_get(&replicas, &format!("/v1/elevations/{binding}")).await;
            let granted = out.granted.iter().any(|(id, _)| *id == binding);
            panic!("{role} is past its expiry (granted: {granted}): {tags:?}\nits binding: {read}");
        }
    }
    assert_no_role_outlives_its_incident_or_expiry(&moto, &replicas.replicas).await;

    // The resolve, through the third replica, revokes every binding, and every role goes:
    // those granted before, during and after the failover, and any a refused request began.
    until_acknowledged(&replicas, &resolve_body("PFQZPSY"), Duration::from_secs(10)).await;
    until_no_roles(&moto, Duration::from_secs(30)).await;
    for (id, duration) in &out.granted {
        // The role goes first, then the binding records it.
        let started = Instant::now();
        let read = loop {
            let (_, read) = admin_get(&replicas, &format!("/v1/elevations/{id}")).await;
            if read["status"] == "revoked" || started.elapsed() > Duration::from_secs(20) {
                break read;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(read["status"], "revoked", "{id} ({duration}): {read}");
        if *duration == "1h" {
            assert_eq!(read["end_reason"], "incident_resolved", "{id}: {read}");
        }
    }

    // The audit chain verifies, sealed to the end.
    let redis = breakglass::config::Redis {
        url: breakglass::secret::Secret::new(set.url()),
        prefix: "bgtest".into(),
        ..Default::default()
    };
    let store = breakglass::store::Store::connect(&redis, Default::default()).expect("store");
    let key = breakglass::secret::Secret::new(AUDIT_KEY);
    let started = Instant::now();
    loop {
        let report = breakglass::audit::verify::verify(&store, Some(&key))
            .await
            .expect("verify");
        assert!(report.is_intact(), "{report:?}");
        if report.unsealed() == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "events still unsealed: {report:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_master_killed_under_webhooks_and_elevations_through_three_replicas() {
    failover_under_load(Set::Cluster(RedisCluster::start())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentinel_master_killed_under_webhooks_and_elevations_through_three_replicas() {
    failover_under_load(Set::Sentinel(RedisSentinel::start())).await;
}

/// The scheduler's fix for what the failover tests found: work that failed on a due entry (here
/// the expiry of a grant, Redis failing over under it) comes due again a second later, instead
/// of when the worker's 30-second lease lapses; a worker that no longer holds the lease changes
/// nothing.
#[tokio::test]
async fn a_worker_whose_due_work_failed_hands_its_lease_back() {
    use breakglass::bindings::store::BindingStore;
    use chrono::{TimeDelta, Utc};

    let app = TestApp::start().await;
    let bindings = BindingStore::new(app.store());
    let id: breakglass::bindings::BindingId = "3abcdefghjkmnpqr".parse().expect("an id");
    let schedule = "bgtest:{3}:schedule";
    let score = |app: &TestApp| -> Option<i64> {
        redis::cmd("ZSCORE")
            .arg(schedule)
            .arg(id.as_str())
            .query(&mut app.redis.conn())
            .expect("ZSCORE")
    };
    let now = Utc::now();
    let _: () = redis::cmd("ZADD")
        .arg(schedule)
        .arg((now - TimeDelta::seconds(1)).timestamp_millis())
        .arg(id.as_str())
        .query(&mut app.redis.conn())
        .expect("ZADD");

    let lease_end = now + TimeDelta::seconds(30);
    let due = bindings.claim(&id, now, lease_end).await.expect("claim");
    assert!(due.is_some(), "a due entry is claimed");
    assert_eq!(score(&app), Some(lease_end.timestamp_millis()));

    // Not the holder's lease end (another worker took it over): nothing changes.
    let retry = now + TimeDelta::seconds(1);
    let other = lease_end + TimeDelta::milliseconds(1);
    assert!(!bindings.release(&id, other, retry).await.expect("release"));
    assert_eq!(score(&app), Some(lease_end.timestamp_millis()));

    // The holder hands it back: due again at `retry`, and only once.
    assert!(bindings
        .release(&id, lease_end, retry)
        .await
        .expect("release"));
    assert_eq!(score(&app), Some(retry.timestamp_millis()));
    assert!(!bindings
        .release(&id, lease_end, retry)
        .await
        .expect("release"));
}
