//! The audit chain: every event sealed, and `breakglass audit verify` naming the first broken
//! link when entries are altered, deleted, cut off or re-sealed without the key in Redis.

use std::time::Duration;

use breakglass::audit::{chain, sealer, verify};
use breakglass::secret::Secret;
use reqwest::StatusCode;

use crate::elevation_support::resolve_body;
use crate::harness::*;

const INCIDENT: &str = "pagerduty:PFQZPSY";

/// An incident opened, reassigned and resolved: a dozen events on one shard, all sealed.
async fn with_sealed_history() -> (TestApp, String) {
    let app = TestApp::start().await;
    let triggered = fixture("pagerduty/incident.triggered.json");
    let acknowledged = edit(
        &fixture("pagerduty/incident.acknowledged.json"),
        "PQ1K5C8",
        "PFQZPSY",
    );
    for body in [triggered, acknowledged, resolve_body("PFQZPSY")] {
        let (status, reply) = app.pagerduty(&body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    }
    let report = app.until_sealed().await;
    assert!(report.is_intact(), "{report:?}");
    assert!(report.sealed() >= 5, "{report:?}");
    let stream = app.store().key(breakglass::keyspace::of(INCIDENT), "audit");
    (app, stream)
}

/// Every entry of a stream: id and fields in stored order.
fn entries(app: &TestApp, key: &str) -> Vec<(String, Vec<(String, String)>)> {
    let raw: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(&mut app.redis.conn())
        .expect("XRANGE");
    raw.into_iter()
        .map(|(id, flat)| {
            let pairs = flat
                .chunks(2)
                .map(|kv| (kv[0].clone(), kv[1].clone()))
                .collect();
            (id, pairs)
        })
        .collect()
}

/// Rewrite a whole stream with the same ids, letting `edit` change entries on the way: the only
/// way to alter an entry in the middle of a Redis stream.
fn rewrite(app: &TestApp, key: &str, edit: impl Fn(&str, &mut Vec<(String, String)>)) {
    let all = entries(app, key);
    let mut conn = app.redis.conn();
    let _: () = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
    for (id, mut fields) in all {
        edit(&id, &mut fields);
        let mut cmd = redis::cmd("XADD");
        cmd.arg(key).arg(&id);
        for (k, v) in &fields {
            cmd.arg(k).arg(v);
        }
        let _: String = cmd.query(&mut conn).unwrap();
    }
}

async fn verify_now(app: &TestApp) -> verify::Report {
    verify::verify(&app.store(), Some(&Secret::new(AUDIT_KEY)))
        .await
        .expect("verify runs")
}

/// `breakglass audit verify --config <file>` against the app's Redis.
async fn verify_cli(app: &TestApp) -> (Option<i32>, String) {
    app.operator(&["audit", "verify"]).await
}

fn only_break(report: &verify::Report) -> verify::Break {
    let broken: Vec<_> = report.broken().cloned().collect();
    assert_eq!(broken.len(), 1, "{report:?}");
    broken[0].clone()
}

#[tokio::test]
async fn an_untouched_trail_verifies_with_the_cli_and_every_event_carries_its_chain() {
    let (app, stream) = with_sealed_history().await;
    let (code, text) = verify_cli(&app).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok: "), "{text}");

    // Sequence numbers run 1.. in the shard; each seal has the entry's id and a digest that
    // chains from the one before.
    let audit = entries(&app, &stream);
    let seals = entries(&app, &format!("{stream}:seal"));
    assert_eq!(audit.len(), seals.len());
    let mut prev = chain::GENESIS;
    for (n, ((id, fields), (seal_id, seal))) in audit.iter().zip(&seals).enumerate() {
        assert_eq!(id, seal_id);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(field("seq"), Some((n + 1).to_string().as_str()));
        for name in [
            "type", "at", "actor", "source", "incident", "binding", "data",
        ] {
            assert!(field(name).is_some(), "{name} missing in {fields:?}");
        }
        let raw = chain::RawEntry {
            id: id.clone(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
                .collect(),
        };
        let digest = chain::digest(&prev, breakglass::keyspace::of(INCIDENT), &raw);
        assert_eq!(seal[0], ("h".to_string(), hex::encode(digest)));
        assert!(chain::seal_matches(
            AUDIT_KEY.as_bytes(),
            &digest,
            &seal[1].1
        ));
        prev = digest;
    }
    // The NDJSON export carries the same chain.
    let lines = app.audit_export().await;
    assert_eq!(lines.len(), audit.len());
    assert_eq!(lines[0]["prev_hash"], hex::encode(chain::GENESIS));
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "{pair:?}");
        assert!(pair[1]["hash"].as_str().is_some_and(|h| h.len() == 64));
    }
}

#[tokio::test]
async fn an_entry_altered_in_redis_is_named_by_verify() {
    let (app, stream) = with_sealed_history().await;
    let target = entries(&app, &stream)[2].0.clone();
    rewrite(&app, &stream, |id, fields| {
        if id == target {
            for (k, v) in fields.iter_mut() {
                if k == "actor" {
                    *v = "someone-else".into();
                }
            }
        }
    });
    let b = only_break(&verify_now(&app).await);
    assert_eq!(b.id, target);
    assert_eq!(b.seq, 3);
    assert!(b.what.contains("altered"), "{b}");

    let (code, text) = verify_cli(&app).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&target) && text.contains("BROKEN"), "{text}");
}

#[tokio::test]
async fn a_deleted_entry_is_named_by_verify() {
    let (app, stream) = with_sealed_history().await;
    let target = entries(&app, &stream)[1].0.clone();
    let _: i64 = redis::cmd("XDEL")
        .arg(&stream)
        .arg(&target)
        .query(&mut app.redis.conn())
        .unwrap();
    let b = only_break(&verify_now(&app).await);
    assert_eq!((b.id.as_str(), b.seq), (target.as_str(), 2));
    assert!(b.what.contains("deleted"), "{b}");
}

#[tokio::test]
async fn an_entry_deleted_with_its_seal_leaves_a_gap_in_the_sequence() {
    let (app, stream) = with_sealed_history().await;
    let all = entries(&app, &stream);
    let mut conn = app.redis.conn();
    for key in [stream.clone(), format!("{stream}:seal")] {
        let _: i64 = redis::cmd("XDEL")
            .arg(&key)
            .arg(&all[1].0)
            .query(&mut conn)
            .unwrap();
    }
    let b = only_break(&verify_now(&app).await);
    assert_eq!((b.id.as_str(), b.seq), (all[2].0.as_str(), 2));
    assert!(b.what.contains("missing"), "{b}");
}

#[tokio::test]
async fn cutting_off_the_newest_entries_and_their_seals_is_caught() {
    let (app, stream) = with_sealed_history().await;
    let all = entries(&app, &stream);
    let last = all.last().unwrap().0.clone();
    let mut conn = app.redis.conn();
    for key in [stream.clone(), format!("{stream}:seal")] {
        let _: i64 = redis::cmd("XDEL")
            .arg(&key)
            .arg(&last)
            .query(&mut conn)
            .unwrap();
    }
    let b = only_break(&verify_now(&app).await);
    assert!(b.what.contains("newest entries were deleted"), "{b}");
}

#[tokio::test]
async fn history_rewritten_with_recomputed_digests_fails_the_keyed_seal() {
    let (app, stream) = with_sealed_history().await;
    let shard = breakglass::keyspace::of(INCIDENT);
    let target = entries(&app, &stream)[0].0.clone();
    rewrite(&app, &stream, |id, fields| {
        if id == target {
            for (k, v) in fields.iter_mut() {
                if k == "data" {
                    *v = v.replace("PFQZPSY", "PFQZPSX");
                }
            }
        }
    });
    // Someone with Redis access but not the key re-seals everything from the altered entry on,
    // holding the shard's sealer lease so that the service does not re-seal first.
    let mut conn = app.redis.conn();
    let _: () = redis::cmd("SET")
        .arg(app.store().key(shard, "audit:sealer"))
        .arg("intruder")
        .arg("EX")
        .arg(600)
        .query(&mut conn)
        .unwrap();
    let seal_key = format!("{stream}:seal");
    let _: () = redis::cmd("DEL").arg(&seal_key).query(&mut conn).unwrap();
    let n = sealer::seal_shard(
        &app.store(),
        shard,
        Some(&Secret::new("a-guessed-key-that-is-not-the-real-one-000")),
    )
    .await
    .unwrap();
    assert!(n > 0);
    let b = only_break(&verify_now(&app).await);
    assert_eq!(b.id, target);
    assert!(
        b.what.contains("does not check with the [audit] key"),
        "{b}"
    );

    // And a replica configured with the real key refuses to extend the forged chain.
    let err = sealer::seal_shard(&app.store(), shard, Some(&Secret::new(AUDIT_KEY))).await;
    assert!(
        matches!(err, Err(sealer::SealError::KeyMismatch { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn when_the_audit_append_fails_the_change_fails_and_nothing_is_written() {
    let app = TestApp::start().await;
    // Break the sequence counter of the incident's shard: INCR, the first write of every
    // audited step, now fails as Redis itself refuses it.
    let seq = app
        .store()
        .key(breakglass::keyspace::of(INCIDENT), "audit:seq");
    let _: () = redis::cmd("SET")
        .arg(&seq)
        .arg("not-a-number")
        .query(&mut app.redis.conn())
        .unwrap();
    let (status, reply) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reply}");
    let keys = app.redis.keys("bgtest");
    assert_eq!(
        keys,
        vec![seq.clone()],
        "only the broken counter exists: {keys:?}"
    );

    // Repaired, the retry (as the provider sends it) goes through with its evidence.
    let _: () = redis::cmd("DEL")
        .arg(&seq)
        .query(&mut app.redis.conn())
        .unwrap();
    let (status, _) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(app.webhooks_applied(), 1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(app.until_sealed().await.is_intact());
}

#[tokio::test]
async fn after_a_key_rotation_old_seals_still_check_and_sealing_goes_on() {
    let (app, _) = with_sealed_history().await;
    let shard = breakglass::keyspace::of(INCIDENT);
    // The service is "restarted" with a new key: keep its sealer (old key) off the shard.
    let _: () = redis::cmd("SET")
        .arg(app.store().key(shard, "audit:sealer"))
        .arg("new-replica")
        .arg("EX")
        .arg(600)
        .query(&mut app.redis.conn())
        .unwrap();
    let reopened = edit(
        &fixture("pagerduty/incident.reopened.json"),
        "Q05XJA8GDXGOB3",
        "PFQZPSY",
    );
    assert_eq!(app.pagerduty(&reopened).await.0, StatusCode::ACCEPTED);
    let rotated = chain::Keys {
        current: Some(Secret::new("the-new-audit-key-0000000000000000000000")),
        previous: vec![Secret::new(AUDIT_KEY)],
    };
    assert!(
        sealer::seal_shard_with(&app.store(), shard, &rotated)
            .await
            .unwrap()
            > 0
    );
    let report = verify::verify_with(&app.store(), &rotated).await.unwrap();
    assert!(report.is_intact() && report.unsealed() == 0, "{report:?}");
    // Without the previous key, the old seals no longer check: the first one is named.
    let only_new = chain::Keys {
        previous: Vec::new(),
        ..rotated.clone()
    };
    let b = only_break(&verify::verify_with(&app.store(), &only_new).await.unwrap());
    assert_eq!(b.seq, 1);
}

#[tokio::test]
async fn a_replica_with_another_key_neither_forks_the_chain_nor_blocks_the_others() {
    let (app, _) = with_sealed_history().await;
    // A second replica on the same Redis, misconfigured with another key.
    let other = app
        .config_text
        .replace(AUDIT_KEY, "a-different-key-0000000000000000000000000");
    let b = breakglass::App::build(breakglass::Config::from_toml_str(&other).unwrap())
        .await
        .unwrap();
    let b_stop = b.shutdown_handle();
    tokio::spawn(b.wait());
    // Bursts of new events after the shard's sealer lease (1 s) has lapsed, so that either
    // replica may take it: the one with the right key seals them all, the other refuses
    // (counting errors) and lets go of the lease rather than keep the shard unsealed.
    for burst in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for i in 0..5 {
            let body = edit(
                &fixture("pagerduty/incident.triggered.json"),
                "01BZYIL05THJDFF2Y08X9SVMTU",
                &format!("KEYS{burst}{i:021}"),
            );
            assert_eq!(app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
        }
        let report = app.until_sealed().await;
        assert!(report.is_intact(), "burst {burst}: {report:?}");
    }
    b_stop.shutdown();
}
