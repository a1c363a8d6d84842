//! `breakglass audit archive`: old events to NDJSON files that verify on their own, and, with
//! --trim, out of Redis with the chain continuing from an anchor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;

use crate::elevation_support::resolve_body;
use crate::harness::*;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    out.sort();
    out
}

/// Three incidents on three shards; `before` falls between the first two webhooks of each and
/// the rest.
async fn history() -> (TestApp, String) {
    let app = TestApp::start().await;
    for (from, to) in [
        ("PFQZPSY", "PFQZPSY"),
        ("PFQZPSY", "PIQUG8X"),
        ("PFQZPSY", "POTHER1"),
    ] {
        let body = edit(&fixture("pagerduty/incident.triggered.json"), from, to);
        assert_eq!(app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
    }
    assert!(app.until_sealed().await.is_intact());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        app.pagerduty(&resolve_body("PFQZPSY")).await.0,
        StatusCode::ACCEPTED
    );
    assert!(app.until_sealed().await.is_intact());
    (app, before)
}

#[tokio::test]
async fn archived_files_verify_alone_and_a_trimmed_chain_continues_from_its_anchor() {
    let (app, before) = history().await;
    let total = app.audit_entries().len();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let out_s = out.display().to_string();

    // Without --trim: files only; Redis keeps everything.
    let (code, text) = app
        .operator(&["audit", "archive", "--before", &before, "--dir", &out_s])
        .await;
    assert_eq!(code, Some(0), "{text}");
    let written = files(&out);
    assert_eq!(written.len(), 3, "{text}");
    let archived: usize = written
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert!(archived > 0 && archived < total, "{archived} of {total}");
    assert_eq!(app.audit_entries().len(), total);
    let mut args = vec!["audit", "verify", "--archive"];
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let (code, text) = app.operator(&args).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("ok: {archived} archived events verified")),
        "{text}"
    );

    // With --trim: gone from Redis, the chain starts at the anchor, and one `audit.archived`
    // event per shard says so.
    std::fs::remove_dir_all(&out).unwrap();
    let (code, text) = app
        .operator(&[
            "audit", "archive", "--before", &before, "--dir", &out_s, "--trim",
        ])
        .await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("trimmed from Redis"), "{text}");
    let entries = app.audit_entries();
    assert_eq!(entries.len(), total - archived + 3);
    assert_eq!(
        entries
            .iter()
            .filter(|(t, _, _)| t == "audit.archived")
            .count(),
        3
    );
    let report = app.until_sealed().await;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(
        report
            .shards
            .iter()
            .filter(|s| s.archived_through.is_some())
            .count(),
        3
    );
    let (code, text) = app.operator(&["audit", "verify"]).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("archived"), "{text}");

    // New events chain on; the export's first remaining line points back at the archive.
    let reopened = edit(
        &fixture("pagerduty/incident.reopened.json"),
        "Q05XJA8GDXGOB3",
        "PFQZPSY",
    );
    assert_eq!(app.pagerduty(&reopened).await.0, StatusCode::ACCEPTED);
    assert!(app.until_sealed().await.is_intact());
    let last_hashes: Vec<String> = files(&out)
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let last: serde_json::Value =
                serde_json::from_str(text.lines().last().unwrap()).unwrap();
            last["hash"].as_str().unwrap().to_owned()
        })
        .collect();
    let first_per_shard: std::collections::BTreeMap<u64, serde_json::Value> = app
        .audit_export()
        .await
        .into_iter()
        .rev()
        .map(|l| (l["shard"].as_u64().unwrap(), l))
        .collect();
    for line in first_per_shard.values() {
        let prev = line["prev_hash"].as_str().unwrap();
        assert!(last_hashes.iter().any(|h| h == prev), "{line}");
    }

    // An altered archive line is named.
    let victim = &files(&out)[0];
    let text = std::fs::read_to_string(victim).unwrap();
    std::fs::write(
        victim,
        text.replacen("webhook.applied", "webhook.applieD", 1),
    )
    .unwrap();
    let names: Vec<String> = files(&out)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["audit", "verify", "--archive"];
    args.extend(names.iter().map(String::as_str));
    let (code, text) = app.operator(&args).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("BROKEN") && text.contains(":1 ") && text.contains("altered"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_time_or_a_broken_chain_archives_nothing() {
    let (app, before) = history().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive").display().to_string();
    let (code, text) = app
        .operator(&["audit", "archive", "--before", "yesterday", "--dir", &out])
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("RFC 3339"), "{text}");

    // Delete an old entry: archive refuses, trims nothing.
    let total = app.audit_entries().len();
    let shard = breakglass::keyspace::of("pagerduty:PFQZPSY");
    let key = app.store().key(shard, "audit");
    let ids: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query(&mut app.redis.conn())
        .unwrap();
    let _: i64 = redis::cmd("XDEL")
        .arg(&key)
        .arg(&ids[0].0)
        .query(&mut app.redis.conn())
        .unwrap();
    let (code, text) = app
        .operator(&[
            "audit", "archive", "--before", &before, "--dir", &out, "--trim",
        ])
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("broken"), "{text}");
    assert_eq!(app.audit_entries().len(), total - 1);
    assert!(!Path::new(&out).exists(), "no file is written either");
}
