//! Elevation against moto, on the service process: grant latency with the service's own share
//! (the whole request less the IAM time it reports in `Server-Timing: iam;dur=<ms>`), and
//! resolve-to-revoked lag beside the floor (moto serving the same IAM calls to a tight client).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::elevation_support::{resolve_body, READ_POLICY};
use crate::harness::{edit, fixture, pd_signature, ALICE_TOKEN, PD_SECRET};
use crate::moto::Moto;

/// Requests in flight at once for the grants that set the scene of a revocation and for the
/// floor's client; the service revokes with its default `[revocation] concurrency` of 64.
const CLIENT_CONCURRENCY: usize = 64;

/// The `[[roles]]` of the run: `grants` for the grant latency, `bindings` for the lag.
pub fn roles(grants: usize, bindings: usize) -> String {
    let role = |name: String| {
        format!("[[roles]]\nname = \"{name}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n")
    };
    (0..grants)
        .map(|i| role(format!("bench-{i}")))
        .chain((0..bindings).map(|i| role(format!("lag-{i}"))))
        .collect()
}

/// Send a signed PagerDuty webhook; panics unless it is accepted.
async fn pagerduty(http: &reqwest::Client, base: &str, body: Vec<u8>) {
    let res = http
        .post(format!("{base}/webhooks/pagerduty"))
        .header("x-pagerduty-signature", pd_signature(PD_SECRET, &body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(
        res.status(),
        reqwest::StatusCode::ACCEPTED,
        "webhook refused: {}",
        res.text().await.unwrap_or_default()
    );
}

/// Open `pagerduty:<native>` with alice assigned (the trigger fixture, moved there).
pub async fn open_incident(http: &reqwest::Client, base: &str, native: &str) {
    let mut body = fixture("pagerduty/incident.triggered.json");
    if native != "PFQZPSY" {
        body = edit(&body, "PFQZPSY", native);
        body = edit(
            &body,
            "01BZYIL05THJDFF2Y08X9SVMTU",
            &format!("01OPEN{native}"),
        );
    }
    pagerduty(http, base, body).await;
}

/// Ask for `role` on `incident` as alice; returns the status, the IAM time the service reported
/// (ms) and the answer.
async fn elevate(
    http: &reqwest::Client,
    base: &str,
    incident: &str,
    role: &str,
) -> (reqwest::StatusCode, f64, String) {
    let res = http
        .post(format!("{base}/v1/elevations"))
        .bearer_auth(ALICE_TOKEN)
        .json(&json!({"incident": incident, "role": role, "duration": "30m", "reason": "perf"}))
        .send()
        .await
        .expect("elevation request");
    let status = res.status();
    let iam_ms = res
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("iam;dur="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    (status, iam_ms, res.text().await.unwrap_or_default())
}

/// Grant latency: whole request, in IAM, and the service's own share, in microseconds.
pub struct Grants {
    pub n: usize,
    pub total: Histogram<u64>,
    pub iam: Histogram<u64>,
    pub own: Histogram<u64>,
}

/// `n` elevations one after another, each for another role (`bench-<i>`) of `incident`.
pub async fn grants(base: &str, incident: &str, n: usize) -> Grants {
    let http = reqwest::Client::new();
    let new = || Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("histogram");
    let (mut total, mut iam, mut own) = (new(), new(), new());
    for i in 0..n {
        let sent = Instant::now();
        let (status, iam_ms, body) = elevate(&http, base, incident, &format!("bench-{i}")).await;
        let total_us = sent.elapsed().as_micros() as u64;
        assert_eq!(status, reqwest::StatusCode::CREATED, "grant {i}: {body}");
        assert!(iam_ms.is_finite(), "grant {i}: no Server-Timing iam;dur");
        let iam_us = (iam_ms * 1000.0) as u64;
        total.saturating_record(total_us);
        iam.saturating_record(iam_us);
        own.saturating_record(total_us.saturating_sub(iam_us));
    }
    Grants { n, total, iam, own }
}

/// Bindings the service has finished revoking, from its metrics.
async fn revoked(http: &reqwest::Client, base: &str) -> usize {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics");
    text.lines()
        .filter(|l| l.starts_with("breakglass_revocations_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}

/// Resolve-to-revoked lag for `n` bindings of a new incident, and the floor.
pub async fn revocation_lag(base: &str, moto: &Moto, n: usize) -> (Duration, Duration) {
    let http = reqwest::Client::new();
    let native = "PLAGPERF";
    let incident = format!("pagerduty:{native}");
    open_incident(&http, base, native).await;
    let gate = Arc::new(Semaphore::new(CLIENT_CONCURRENCY));
    let mut granting = tokio::task::JoinSet::new();
    for i in 0..n {
        let (http, gate, base, incident) = (
            http.clone(),
            gate.clone(),
            base.to_string(),
            incident.clone(),
        );
        granting.spawn(async move {
            let _slot = gate.acquire().await.expect("gate");
            let (status, _, body) = elevate(&http, &base, &incident, &format!("lag-{i}")).await;
            assert_eq!(
                status,
                reqwest::StatusCode::CREATED,
                "lag grant {i}: {body}"
            );
        });
    }
    while let Some(done) = granting.join_next().await {
        done.expect("grant");
    }
    let before = revoked(&http, base).await;

    let started = Instant::now();
    pagerduty(&http, base, resolve_body(native)).await;
    while revoked(&http, base).await < before + n {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "revocation stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lag = started.elapsed();
    (lag, floor(moto, n, &gate).await)
}

/// The same IAM calls for `n` fresh roles of the same shape, straight to moto: the session-ending
/// deny, the policy listings, the deletion of each inline policy, the role's deletion.
pub async fn floor(moto: &Moto, n: usize, gate: &Arc<Semaphore>) -> Duration {
    floor_with(moto.client(), n, gate).await
}

/// [`floor`] with a given IAM client (one of another account, say).
pub async fn floor_with(iam: aws_sdk_iam::Client, n: usize, gate: &Arc<Semaphore>) -> Duration {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    let mut setup = tokio::task::JoinSet::new();
    for i in 0..n {
        let (iam, gate) = (iam.clone(), gate.clone());
        setup.spawn(async move {
            let _slot = gate.acquire().await.expect("gate");
            let name = format!("perf-floor-{i}");
            iam.create_role()
                .role_name(&name)
                .path("/perf-floor/")
                .assume_role_policy_document(trust)
                .send()
                .await
                .expect("CreateRole");
            iam.put_role_policy()
                .role_name(&name)
                .policy_name("breakglass")
                .policy_document(READ_POLICY)
                .send()
                .await
                .expect("PutRolePolicy");
        });
    }
    while let Some(done) = setup.join_next().await {
        done.expect("floor setup");
    }
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2030-01-01T00:00:00Z"}}}]}"#;
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        let (iam, gate) = (iam.clone(), gate.clone());
        calls.spawn(async move {
            let _slot = gate.acquire().await.expect("gate");
            let name = format!("perf-floor-{i}");
            iam.put_role_policy()
                .role_name(&name)
                .policy_name("breakglass-revoked")
                .policy_document(deny)
                .send()
                .await
                .expect("PutRolePolicy (deny)");
            let inline = iam
                .list_role_policies()
                .role_name(&name)
                .send()
                .await
                .expect("ListRolePolicies");
            iam.list_attached_role_policies()
                .role_name(&name)
                .send()
                .await
                .expect("ListAttachedRolePolicies");
            for policy in inline.policy_names() {
                iam.delete_role_policy()
                    .role_name(&name)
                    .policy_name(policy)
                    .send()
                    .await
                    .expect("DeleteRolePolicy");
            }
            iam.delete_role()
                .role_name(&name)
                .send()
                .await
                .expect("DeleteRole");
        });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("floor");
    }
    started.elapsed()
}
