//! Redis Sentinel: the service finds the master through the sentinels (`redis+sentinel://`),
//! runs the whole lifecycle there, and follows a failover to the promoted replica.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::elevation_support::*;
use crate::harness::{redis_cli, stdout_of, RedisSentinel};

#[tokio::test]
async fn the_whole_lifecycle_runs_on_the_master_sentinel_names() {
    let set = RedisSentinel::start();
    let (e, id) = Elev::start_elsewhere(&set.url(), "").await;
    let keys = set.keys("bgtest:*");
    assert!(keys.iter().any(|k| k.contains(":binding:")), "{keys:?}");
    e.resolve_revokes(&id).await;
}

#[tokio::test]
async fn after_the_master_is_killed_the_service_follows_the_promoted_replica() {
    let mut set = RedisSentinel::start();
    let (e, id) = Elev::start_elsewhere(&set.url(), "").await;
    // Replication is asynchronous: the test waits until the replica has everything, so that
    // what it checks is the service finding the new master (acknowledged-write durability
    // across a failover is the WAIT setting's job, not this test's).
    let old = set.master;
    let acked = redis_cli(old, &["WAIT", "1", "5000"]).expect("WAIT");
    assert_eq!(stdout_of(&acked).trim(), "1");

    set.kill(old);
    let started = Instant::now();
    while set.master() == old {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failover within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Webhooks answer 503 (the tools retry) until the service reaches the new master, then
    // apply again: a new incident, sent until it is accepted, as a tool would retry it.
    let trigger = new_trigger("PSENTL1", "PJ0LSNT");
    let started = Instant::now();
    loop {
        let (status, answer) = e.app.pagerduty(&trigger).await;
        if status == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "webhooks still refused 20 s after the failover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The binding granted before the failover is there, and the resolve revokes it.
    assert_eq!(e.binding(&id).await["status"], "active");
    e.resolve_revokes(&id).await;
}

#[tokio::test]
async fn with_wait_replicas_a_write_no_replica_acknowledged_is_not_acknowledged() {
    let mut set = RedisSentinel::start();
    let (e, _) = Elev::start_elsewhere(&set.url(), "wait_replicas = 1").await;

    // Without it, the master still takes the write, but breakglass does not acknowledge it:
    // the tool retries (and sees 202 once a replica has it).
    set.kill(set.replica);
    let trigger = new_trigger("PWAIT01", "PJ0LWAT");
    let (status, answer) = e.app.pagerduty(&trigger).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "store_unavailable", "{answer}");
    let (status, answer) = e
        .elevate_role(
            crate::harness::ALICE_TOKEN,
            "prod-admin",
            serde_json::json!("30m"),
        )
        .await;
    assert!(status.is_server_error(), "{status} {answer}");
}
