//! `GET /v1/incidents/{id}/review` and `breakglass review`: a full lifecycle, from the first
//! webhook to IAM-confirmed removal, as JSON, CSV, Markdown and HTML.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::elevation_support::*;
use crate::harness::*;

const WAIT: Duration = Duration::from_secs(20);

/// Now as the incident tool writes it, for payloads dated as they happen.
fn now_text(ago: Duration) -> String {
    (Utc::now() - chrono::Duration::from_std(ago).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Open, a refusal, an auto grant, a peer grant approved by bob, resolve, both roles gone, all
/// sealed, with the tool's times set to when they happen. Returns the two binding ids (auto,
/// peer) and the tool's resolve time.
async fn full_lifecycle() -> (Elev, String, String, String) {
    let e = Elev::start().await;
    let triggered = edit(
        &fixture("pagerduty/incident.triggered.json"),
        "2021-06-04T13:35:29.781Z",
        &now_text(Duration::from_secs(2)),
    );
    assert_eq!(e.app.pagerduty(&triggered).await.0, StatusCode::ACCEPTED);
    // Bob is not on the incident yet: refused, and the refusal is evidence too.
    let (status, reply) = e
        .elevate_role(BOB_TOKEN, "prod-db-read", json!("30m"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    let (status, reply) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("30m"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let auto = reply["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let added = edit(
        &fixture("pagerduty/incident.responder.added.json"),
        "Q3B15VLMF3ASBD",
        "PFQZPSY",
    );
    let added = edit(&added, "PXRUEF2", "PI9DT01");
    let added = edit(
        &added,
        "2026-04-01T02:20:14.737Z",
        &now_text(Duration::ZERO),
    );
    assert_eq!(e.app.pagerduty(&added).await.0, StatusCode::ACCEPTED);
    let (status, reply) = e
        .elevate_role(ALICE_TOKEN, "prod-admin", json!("10m"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let peer = reply["id"].as_str().unwrap().to_owned();
    let (status, reply) = e
        .call(
            Method::POST,
            &format!("/v1/elevations/{peer}/approve"),
            BOB_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resolved_at = now_text(Duration::ZERO);
    let resolve = edit(
        &resolve_body("PFQZPSY"),
        "2021-06-04T14:16:53.816Z",
        &resolved_at,
    );
    assert_eq!(e.app.pagerduty(&resolve).await.0, StatusCode::ACCEPTED);
    e.until_no_roles(WAIT).await;
    // Revoked in Redis too (the role goes just before the binding is marked).
    let started = std::time::Instant::now();
    loop {
        let incident = e.app.incident(INCIDENT).await;
        let done = incident["bindings"]
            .as_array()
            .is_some_and(|b| b.iter().all(|b| b["status"] == "revoked"));
        if done {
            break;
        }
        assert!(started.elapsed() < WAIT, "{incident}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(e.app.until_sealed().await.is_intact());
    (e, auto, peer, resolved_at)
}

async fn review(e: &Elev, token: &str, format: &str) -> reqwest::Response {
    e.app
        .http
        .get(
            e.app
                .url(&format!("/v1/incidents/{INCIDENT}/review?format={format}")),
        )
        .bearer_auth(token)
        .send()
        .await
        .expect("review request")
}

fn t(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn span(from: &Value, to: &Value) -> i64 {
    (t(to) - t(from)).num_milliseconds()
}

#[tokio::test]
async fn a_full_lifecycle_reviews_every_event_in_order_with_its_durations() {
    let (e, auto, peer, resolved_at) = full_lifecycle().await;
    let res = review(&e, ALICE_TOKEN, "json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let r: Value = res.json().await.unwrap();

    // Every event, in the order recorded, each sealed.
    let events = r["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(events
        .iter()
        .all(|e| e["hash"].as_str().is_some_and(|h| h.len() == 64)));
    assert_eq!(r["chain"]["unsealed"], 0);
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["binding"].as_str().unwrap()))
        .collect();
    let expected = [
        ("webhook.applied", ""),
        ("incident.status_changed", ""),
        ("incident.responders_changed", ""),
        ("elevation.denied", ""),
        ("elevation.requested", auto.as_str()),
        ("binding.granted", auto.as_str()),
        ("webhook.applied", ""),
        ("incident.responders_changed", ""),
        ("elevation.requested", peer.as_str()),
        ("elevation.approved", peer.as_str()),
        ("binding.granted", peer.as_str()),
        ("webhook.applied", ""),
        ("incident.status_changed", ""),
        // The resolve also ends the assignment.
        ("incident.responders_changed", ""),
    ];
    assert_eq!(&kinds[..expected.len()], &expected, "{kinds:#?}");
    // Then both revocations, in whichever order the workers finished them.
    let rest: Vec<(&str, &str)> = kinds[expected.len()..].to_vec();
    for id in [&auto, &peer] {
        let mine: Vec<&str> = rest
            .iter()
            .filter(|(_, b)| b == id)
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(mine, ["binding.revoking", "binding.revoked"], "{rest:?}");
    }
    assert_eq!(rest.len(), 4, "{rest:?}");
    let denied = &events[3];
    assert_eq!(denied["actor"], "bob@example.com");
    assert_eq!(denied["data"]["rule"], "not_on_call");
    assert_eq!(events[0]["actor"], "pagerduty");
    assert_eq!(events[0]["source"], "webhook:pagerduty");

    // The lifecycle as PagerDuty reported it: open, then resolved at the tool's own time.
    let lifecycle = r["lifecycle"].as_array().unwrap();
    assert_eq!(lifecycle.len(), 2, "{lifecycle:?}");
    assert_eq!(lifecycle[0]["status"], "open");
    assert_eq!(lifecycle[1]["status"], "resolved");
    assert_eq!(t(&lifecycle[1]["from"]), t(&json!(resolved_at)));
    assert_eq!(lifecycle[0]["until"], lifecycle[1]["from"]);

    // Each binding from request to IAM-confirmed removal, with durations that add up.
    let bindings = r["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 2);
    let resolved_heard = t(&events[12]["at"]);
    for b in bindings {
        let d = &b["durations"];
        assert_eq!(b["requester"], "alice@example.com");
        assert_eq!(b["reason"], "replica lag on checkout");
        assert_eq!(b["policy"], READ_POLICY);
        assert!(
            b["role_arn"]
                .as_str()
                .unwrap()
                .contains(":role/breakglass/"),
            "{b}"
        );
        assert_eq!(b["end_reason"], "incident_resolved");
        assert_eq!(b["ended_by"], "pagerduty");
        assert_eq!(b["failed_attempts"], 0);
        let how = b["how"].as_str().unwrap();
        assert!(
            how.contains("sessions issued before") && how.contains("role deleted"),
            "{how}"
        );
        assert_eq!(
            d["request_to_grant_ms"],
            span(&b["requested_at"], &b["granted_at"])
        );
        assert_eq!(d["held_ms"], span(&b["granted_at"], &b["revoked_at"]));
        assert_eq!(
            d["revocation_ms"],
            span(&b["revocation_started_at"], &b["revoked_at"])
        );
        assert!(d["held_ms"].as_i64().unwrap() > 0);
        assert!(t(&b["revoked_at"]) >= resolved_heard);
        assert!(t(&b["sessions_denied_before"]) >= resolved_heard);
        assert!(t(&b["sessions_denied_before"]) <= t(&b["revoked_at"]));
        let after = d["resolve_to_removed_ms"].as_i64().unwrap();
        assert_eq!(
            after,
            (t(&b["revoked_at"]) - resolved_heard).num_milliseconds()
        );
        assert!((0..20_000).contains(&after), "{after}");
    }
    let peer_b = bindings.iter().find(|b| b["id"] == peer).unwrap();
    assert_eq!(peer_b["approval"], "peer");
    assert_eq!(peer_b["approved_by"], "bob@example.com");
    assert!(t(&peer_b["approved_at"]) <= t(&peer_b["granted_at"]));
    let window = &r["window"];
    assert!(t(&window["start"]) <= t(&r["incident"]["opened_at"]));
    assert!(t(&window["end"]) >= t(&peer_b["revoked_at"]));
}

#[tokio::test]
async fn csv_markdown_and_html_carry_the_same_review() {
    let (e, auto, peer, _) = full_lifecycle().await;
    let json: Value = review(&e, ALICE_TOKEN, "json").await.json().await.unwrap();
    let events = json["events"].as_array().unwrap().len();

    let res = review(&e, ALICE_TOKEN, "csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("review-pagerduty-PFQZPSY.csv"));
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let section = |s: &str| rows.iter().filter(|r| &r[col("section")] == s).count();
    assert_eq!(section("binding"), 2);
    assert_eq!(section("event"), events);
    for id in [&auto, &peer] {
        let row = rows
            .iter()
            .find(|r| &r[col("section")] == "binding" && &r[col("binding")] == id.as_str())
            .unwrap();
        assert_eq!(&row[col("requester")], "alice@example.com");
        assert!(!row[col("revoked_at")].is_empty());
        let held: f64 = row[col("held_s")].parse().unwrap();
        assert!(held > 0.0);
    }

    let res = review(&e, ALICE_TOKEN, "md").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let md = res.text().await.unwrap();
    for needle in [
        "# Access review",
        "## Lifecycle",
        "## Access granted",
        "## Events",
        auto.as_str(),
        peer.as_str(),
    ] {
        assert!(md.contains(needle), "{needle} missing from:\n{md}");
    }

    let res = review(&e, BOB_TOKEN, "html").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg") && !html.contains("<script"));
    assert!(html.contains(&auto) && html.contains(&peer));
    // For scripts/review-screenshot: the page of a real lifecycle, to render in Chromium.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-sample.html");
    std::fs::write(&out, &html).unwrap();
}

#[tokio::test]
async fn only_responders_involved_and_admins_may_read_a_review() {
    let e = Elev::start().await;
    e.open_incident().await;
    // Bob is no responder: 403, as for any non-admin outside the incident; the export of the
    // whole trail is for admins only.
    for format in ["json", "html"] {
        let res = review(&e, BOB_TOKEN, format).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{format}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
    }
    let (status, _) = e.call(Method::GET, "/v1/audit", ALICE_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        review(&e, ALICE_TOKEN, "json").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        review(&e, ADMIN_TOKEN, "json").await.status(),
        StatusCode::OK
    );
    let res = review(&e, ALICE_TOKEN, "pdf").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = e
        .app
        .http
        .get(e.app.url("/v1/incidents/pagerduty:NOPE/review"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = e
        .app
        .http
        .get(e.app.url(&format!("/v1/incidents/{INCIDENT}/review")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_cli_downloads_reviews_and_exports() {
    let (e, _, _, _) = full_lifecycle().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: Vec<String>, token: &'static str| {
        let url = e.app.url("");
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_breakglass"))
                .args(&args)
                .env("BREAKGLASS_URL", url)
                .env("BREAKGLASS_TOKEN", token)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let file = dir.path().join("review.csv");
    let (code, _, err) = run(
        vec![
            "review".into(),
            INCIDENT.into(),
            "--format".into(),
            "csv".into(),
            "-o".into(),
            file.display().to_string(),
        ],
        ALICE_TOKEN,
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    let mut reader = csv::Reader::from_path(&file).unwrap();
    assert!(reader.records().count() > 10);

    let (code, md, err) = run(vec!["review".into(), INCIDENT.into()], ALICE_TOKEN).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(md.starts_with("# Access review"), "{md}");

    let (code, _, err) = run(vec!["review".into(), INCIDENT.into()], BOB_TOKEN).await;
    assert_eq!(code, Some(0), "bob approved a binding and was added: {err}");

    let (code, ndjson, err) = run(
        vec![
            "audit".into(),
            "export".into(),
            "--since".into(),
            "2020-01-01T00:00:00Z".into(),
        ],
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(ndjson.lines().count(), e.app.audit_entries().len());
    let (code, _, err) = run(vec!["audit".into(), "export".into()], ALICE_TOKEN).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("forbidden"), "{err}");
}
