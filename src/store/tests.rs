//! The topologies' URL parsing and the scripts WAIT follows, without a Redis.

use super::wait::script_key;
use super::*;

#[test]
fn scripts_are_told_apart_with_their_first_key() {
    let mut eval = redis::cmd("EVALSHA");
    eval.arg("abc")
        .arg(2)
        .arg("bg:{3}:incident:x")
        .arg("k2")
        .arg("argv");
    assert_eq!(script_key(&eval), Some(Some(b"bg:{3}:incident:x".to_vec())));
    let mut keyless = redis::cmd("evalsha");
    keyless.arg("abc").arg(0).arg("argv");
    assert_eq!(script_key(&keyless), Some(None));
    let mut get = redis::cmd("GET");
    get.arg("k");
    assert_eq!(script_key(&get), None);
    assert_eq!(script_key(&redis::cmd("EVALSHA")), Some(None));
}

#[test]
fn a_sentinel_url_names_the_sentinels_the_master_and_its_login() {
    let t = sentinel_target("redis+sentinel://app:p%40ss@10.0.0.1:26379, 10.0.0.2:26380/main")
        .unwrap()
        .unwrap();
    assert_eq!(
        t.sentinels,
        ["redis://10.0.0.1:26379", "redis://10.0.0.2:26380"]
    );
    assert_eq!(t.master, "main");
    assert_eq!(t.redis.username(), Some("app"));
    assert_eq!(t.redis.password(), Some("p@ss"));
    assert!(!t.tls);
    assert!(
        sentinel_target("rediss+sentinel://h:26379/m")
            .unwrap()
            .unwrap()
            .tls
    );
    assert!(sentinel_target("redis://h:6379").is_none());
    assert!(sentinel_target("redis+cluster://h:6379").is_none());
    for bad in [
        "redis+sentinel://h:26379",
        "redis+sentinel://h:26379/",
        "redis+sentinel:///m",
        "redis+sentinel://h:26379/0/m",
        "redis+sentinel://h:x/m",
    ] {
        assert!(matches!(sentinel_target(bad), Some(Err(_))), "{bad}");
    }
}

#[test]
fn a_cluster_url_lists_its_seed_nodes_with_the_credentials() {
    let nodes = |u: &str| cluster_nodes(u).map(|r| r.map_err(|e| e.to_string()));
    assert_eq!(
        nodes("redis+cluster://u:p@10.0.0.1:7000, 10.0.0.2:7001"),
        Some(Ok(vec![
            "redis://u:p@10.0.0.1:7000".to_string(),
            "redis://u:p@10.0.0.2:7001".to_string()
        ]))
    );
    assert_eq!(
        nodes("rediss+cluster://h:6380/"),
        Some(Ok(vec!["rediss://h:6380".to_string()]))
    );
    assert_eq!(nodes("redis://h:6379"), None);
    assert_eq!(nodes("rediss://h:6379"), None);
    for bad in [
        "redis+cluster://",
        "redis+cluster://u:p@",
        "redis+cluster://h:7000/0",
        "redis+cluster://h:notaport",
    ] {
        assert!(matches!(nodes(bad), Some(Err(_))), "{bad}");
    }
}

#[test]
fn shards_are_stable_and_in_range() {
    assert_eq!(
        crate::keyspace::of("pagerduty:PFQZPSY"),
        crate::keyspace::of("pagerduty:PFQZPSY")
    );
    let spread: std::collections::HashSet<u16> = (0..200)
        .map(|i| crate::keyspace::of(&format!("opsgenie:{i}")))
        .collect();
    assert!(spread.iter().all(|s| *s < SHARDS));
    assert!(spread.len() > 8, "ids spread over the shards: {spread:?}");
}
