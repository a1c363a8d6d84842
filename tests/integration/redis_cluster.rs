//! Redis Cluster: the service on a real 3-master, 3-replica cluster ([`RedisCluster`]): the
//! whole lifecycle, the reconciler's walk over every shard, and a master killed under load.

use std::time::{Duration, Instant};

use crate::harness::{cluster_url, redis_cli, stdout_of, RedisCluster};

#[test]
fn a_cluster_starts_with_every_slot_served() {
    let cluster = RedisCluster::start();
    let nodes = cluster.nodes();
    assert_eq!(nodes.len(), 3, "three seed masters: {nodes:?}");
    let ports: Vec<u16> = nodes
        .iter()
        .map(|url| {
            url.strip_prefix("redis://127.0.0.1:")
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("unexpected node URL {url}"))
        })
        .collect();

    // Write through one node and read through another: -c follows the MOVED redirect.
    let set = redis_cli(ports[0], &["-c", "SET", "{x}a", "1"]).expect("redis-cli SET");
    assert_eq!(stdout_of(&set).trim(), "OK", "SET {{x}}a 1: {set:?}");
    let get = redis_cli(ports[1], &["-c", "GET", "{x}a"]).expect("redis-cli GET");
    assert_eq!(stdout_of(&get).trim(), "1", "GET {{x}}a: {get:?}");

    // The key's slot is served by one of the seed masters.
    let slot = redis_cli(ports[0], &["CLUSTER", "KEYSLOT", "{x}a"]).expect("CLUSTER KEYSLOT");
    let slot: u16 = stdout_of(&slot).trim().parse().expect("a slot number");
    assert!(
        ports.contains(&cluster.master_of_slot(slot)),
        "slot {slot} owned by a seed master"
    );

    assert_eq!(cluster.keys("*"), vec!["{x}a".to_owned()]);
}

#[tokio::test]
async fn the_whole_lifecycle_runs_on_a_three_master_cluster() {
    use crate::elevation_support::Elev;

    let cluster = RedisCluster::start();
    let (e, id) = Elev::start_elsewhere(&cluster_url(&cluster), "").await;
    let keys = cluster.keys("bgtest:*");
    assert!(keys.iter().any(|k| k.contains(":incident:")), "{keys:?}");
    assert!(keys.iter().any(|k| k.contains(":binding:")), "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with(":audit")), "{keys:?}");
    e.resolve_revokes(&id).await;
}

#[tokio::test]
async fn the_reconciler_walks_every_shard_on_the_master_that_holds_it() {
    use breakglass::bindings::store::BindingStore;
    use breakglass::store::{Store, SHARDS};

    let cluster = RedisCluster::start();
    let config = breakglass::config::Redis {
        url: breakglass::secret::Secret::new(cluster_url(&cluster)),
        prefix: "bgscan".into(),
        ..Default::default()
    };
    let store = Store::connect(&config, Default::default()).expect("store");
    // One revoking binding, missing from its schedule, in every shard: the reconciler's SCAN
    // must reach each shard's master to put all of them back.
    let mut conn = store.conn();
    for shard in 0..SHARDS {
        let id = format!("{shard:x}stuckbinding000");
        let key = store.key(shard, &format!("binding:{id}"));
        let _: () = redis::cmd("HSET")
            .arg(&key)
            .arg("status")
            .arg("revoking")
            .query_async(&mut conn)
            .await
            .expect("HSET");
    }
    let masters: std::collections::BTreeSet<u16> = (0..SHARDS)
        .map(|s| cluster.master_of_slot(cluster.slot_of(&store.key(s, "x"))))
        .collect();
    assert!(masters.len() > 1, "the shards all sit on one master");
    let bindings = BindingStore::new(store.clone());
    let mut requeued = 0;
    for shard in 0..SHARDS {
        requeued += bindings
            .requeue_stuck(shard, chrono::Utc::now())
            .await
            .expect("requeue")
            .len();
    }
    assert_eq!(requeued, usize::from(SHARDS));
}

#[tokio::test]
async fn a_master_killed_under_a_stream_of_webhooks_loses_nothing_acknowledged() {
    use crate::elevation_support::Elev;
    use crate::harness::ADMIN_TOKEN;
    use reqwest::{Method, StatusCode};

    let mut cluster = RedisCluster::start();
    let (e, id) = Elev::start_elsewhere(&cluster_url(&cluster), "wait_replicas = 1").await;

    // The master that holds the incident's shard, and so alice's binding.
    let shard = breakglass::keyspace::of("pagerduty:PFQZPSY");
    let slot = cluster.slot_of(&format!("bgtest:{{{shard}}}:x"));
    let old = cluster.master_of_slot(slot);

    // A steady stream of new incidents; the master is killed a second in, and the stream goes
    // on until the failover is done and 20 webhooks in a row were accepted after it.
    let mut accepted = Vec::new();
    let mut refused = 0;
    let started = Instant::now();
    let mut killed = None;
    let mut promoted = false;
    let mut streak = 0;
    for n in 0.. {
        let native = format!("PSTRM{n:03}");
        let body = crate::elevation_support::new_trigger(&native, &format!("EV{n:05}"));
        let (status, answer) = e.app.pagerduty(&body).await;
        match status {
            // `200 duplicate` is an acknowledgement too: the cluster client retried a script
            // whose first run had applied (its answer lost in the failover).
            StatusCode::ACCEPTED | StatusCode::OK => {
                accepted.push(native);
                streak += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                streak = 0;
            }
            other => panic!("{other} {answer}"),
        }
        if killed.is_none() && started.elapsed() > Duration::from_secs(1) {
            cluster.kill(old);
            killed = Some(Instant::now());
            streak = 0;
        }
        if let Some(at) = killed {
            if !promoted && n % 10 == 0 {
                promoted = cluster.master_of_slot(slot) != old;
                if promoted {
                    // Its replica is now its master, with no replica of its own: with
                    // `wait_replicas = 1` its shards refuse writes until the old master is
                    // back, as a replica, as an operator would bring it back.
                    cluster.restart(old);
                    streak = 0;
                }
            }
            if promoted && streak >= 20 {
                break;
            }
            assert!(
                at.elapsed() < Duration::from_secs(40),
                "no failover within 40 s ({refused} refused)"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Every acknowledged webhook is in state on the cluster as it is now.
    for native in &accepted {
        let (status, read) = e
            .call(
                Method::GET,
                &format!("/v1/incidents/pagerduty:{native}"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "pagerduty:{native}: {read}");
    }
    assert!(accepted.len() > 20, "{} accepted", accepted.len());
    eprintln!(
        "cluster failover: {} webhooks accepted, {refused} refused (503) while the master of slot {slot} was replaced",
        accepted.len()
    );
    // The binding made before the failover is there, and the resolve revokes it.
    assert_eq!(e.binding(&id).await["status"], "active");
    e.resolve_revokes(&id).await;
}
