//! `GET /v1/audit`: the admins' NDJSON export of the audit trail across shards.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;

use crate::harness::*;

const A: &str = "pagerduty:PFQZPSY";
const B: &str = "pagerduty:PIQUG8X";
const C: &str = "pagerduty:POTHER1";

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Stream ids carry Redis' clock in milliseconds: keep the events' times apart.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(30)).await;
}

/// Three incidents on different shards, then A resolved; the times between the steps.
async fn with_history() -> (TestApp, Vec<String>) {
    let app = TestApp::start().await;
    let mut marks = vec![now()];
    tick().await;
    let other = edit(
        &fixture("pagerduty/incident.reassigned.json"),
        "PIQUG8X",
        "POTHER1",
    );
    let resolved = edit(
        &edit(
            &fixture("pagerduty/incident.resolved.json"),
            "PCPZE64",
            "PFQZPSY",
        ),
        "2021-06-04T13:16:53.816Z",
        "2021-06-04T14:16:53.816Z",
    );
    for body in [
        fixture("pagerduty/incident.triggered.json"),
        fixture("pagerduty/incident.reassigned.json"),
        other,
        resolved,
    ] {
        let (status, reply) = app.pagerduty(&body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
        tick().await;
        marks.push(now());
        tick().await;
    }
    (app, marks)
}

async fn export(app: &TestApp, query: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(app.url(&format!("/v1/audit{query}")));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("audit request")
}

async fn lines(app: &TestApp, query: &str) -> Vec<serde_json::Value> {
    let res = export(app, query, Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let text = res.text().await.unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The incidents of the `webhook.applied` lines, in order.
fn incidents(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l["type"] == "webhook.applied")
        .map(|l| l["incident"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_admin_exports_every_applied_webhook_in_time_order_across_shards() {
    let (app, _) = with_history().await;
    let shards: Vec<u16> = [A, B, C]
        .iter()
        .map(|i| breakglass::keyspace::of(i))
        .collect();
    assert!(
        shards[0] != shards[1] && shards[1] != shards[2] && shards[0] != shards[2],
        "the test wants three shards: {shards:?}"
    );

    let all = lines(&app, "").await;
    assert_eq!(all.len(), app.audit_entries().len());
    // Every line carries its place in its shard's sequence, who did it and through what.
    let mut last_seq = std::collections::HashMap::new();
    for line in &all {
        let seq = line["seq"].as_u64().unwrap_or_else(|| panic!("{line}"));
        let prev = last_seq.insert(line["shard"].as_u64().unwrap(), seq);
        assert_eq!(seq, prev.unwrap_or(0) + 1, "{line}");
        assert_eq!(line["actor"], "pagerduty", "{line}");
        assert_eq!(line["source"], "webhook:pagerduty", "{line}");
    }
    let all: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|l| l["type"] == "webhook.applied")
        .collect();
    assert_eq!(incidents(&all), [A, B, C, A]);
    for (line, shard) in all.iter().zip([shards[0], shards[1], shards[2], shards[0]]) {
        assert_eq!(line["shard"], shard, "{line}");
        assert!(line["at"].as_str().is_some_and(|s| !s.is_empty()), "{line}");
        // `data` is the event itself, parsed, not a string of JSON.
        assert_eq!(line["data"]["incident"], line["incident"], "{line}");
    }
    assert_eq!(all[0]["data"]["status_after"], "open");
    assert_eq!(all[3]["data"]["status_after"], "resolved");
    // Ids are the stream's, ascending in time.
    let ms: Vec<u64> = all
        .iter()
        .map(|l| {
            let id = l["id"].as_str().unwrap();
            id.split_once('-').unwrap().0.parse().unwrap()
        })
        .collect();
    assert!(ms.windows(2).all(|w| w[0] < w[1]), "{ms:?}");
}

#[tokio::test]
async fn since_and_until_select_a_time_range() {
    let (app, marks) = with_history().await;
    let q = |since: &str, until: &str| format!("?since={since}&until={until}").replace('+', "%2B");
    assert_eq!(
        incidents(&lines(&app, &q(&marks[1], &marks[3])).await),
        [B, C]
    );
    assert_eq!(
        incidents(&lines(&app, &format!("?since={}", marks[2])).await),
        [C, A]
    );
    assert_eq!(
        incidents(&lines(&app, &format!("?until={}", marks[1])).await),
        [A]
    );
    assert!(lines(&app, &format!("?until={}", marks[0]))
        .await
        .is_empty());
    // A time zone offset other than Z is fine.
    assert_eq!(
        incidents(&lines(&app, &q("1970-01-01T01:00:00+01:00", &marks[4])).await),
        [A, B, C, A]
    );
}

#[tokio::test]
async fn only_admins_may_export_and_bad_times_are_refused() {
    let (app, marks) = with_history().await;

    let res = export(&app, "", Some(ALICE_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");

    let res = export(&app, "", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    for query in [
        "?since=yesterday".to_string(),
        "?until=2024-13-01T00:00:00Z".to_string(),
        format!("?since={}&until={}", marks[3], marks[1]),
    ] {
        let res = export(&app, &query, Some(ADMIN_TOKEN)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{query}");
    }
}

#[tokio::test]
async fn redis_down_before_the_first_byte_is_503() {
    let (mut app, _) = with_history().await;
    app.redis.stop();
    let res = export(&app, "", Some(ADMIN_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable");
}

#[tokio::test]
async fn long_ranges_are_read_in_pages_and_merged_by_time_shard_and_sequence() {
    let app = TestApp::start().await;
    let mut conn = app.redis.conn();
    // 1,200 entries on shard 3 and 700 on shard 9 (more than a 500-entry page each), with
    // explicit ids that interleave; equal milliseconds put the lower shard first. One command
    // at a time: the two streams are in different slots, on different nodes of a cluster.
    let mut xadd = |cmd: &mut redis::Cmd| cmd.query::<String>(&mut conn).expect("XADD");
    for i in 0..1200u64 {
        xadd(
            redis::cmd("XADD")
                .arg("bgtest:{3}:audit")
                .arg(format!("{}-{}", 1000 + i / 2, i % 2))
                .arg(&[
                    "type",
                    "t",
                    "incident",
                    "x",
                    "at",
                    "a",
                    "data",
                    &format!("{{\"i\":{i}}}"),
                ]),
        );
    }
    for i in 0..700u64 {
        xadd(
            redis::cmd("XADD")
                .arg("bgtest:{9}:audit")
                .arg(format!("{}-0", 1000 + i))
                .arg(&["type", "t", "incident", "y", "at", "a", "data", "{}"]),
        );
    }

    let all = lines(&app, "").await;
    assert_eq!(all.len(), 1900);
    let keys: Vec<(u64, u64, u64)> = all
        .iter()
        .map(|l| {
            let (ms, seq) = l["id"].as_str().unwrap().split_once('-').unwrap();
            (
                ms.parse().unwrap(),
                l["shard"].as_u64().unwrap(),
                seq.parse().unwrap(),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(all[0]["data"]["i"], 0);
    assert_eq!(all[1]["data"]["i"], 1);
    assert_eq!(all[2]["shard"], 9);

    // A range inside the pages: ms 1100..=1199 holds 200 + 100 entries.
    let part = lines(
        &app,
        "?since=1970-01-01T00:00:01.100Z&until=1970-01-01T00:00:01.199Z",
    )
    .await;
    assert_eq!(part.len(), 300);
}
