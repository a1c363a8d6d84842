//! Benchmark: a resolve with bindings spread over three accounts (the service's own and two
//! member accounts reached through granter roles), against moto: how long after the resolve
//! every role is gone, per account and in total, beside floors measured in the same run (the
//! same IAM calls sent straight to moto from a tight concurrent client, in each account, and for
//! all the roles at once).
//!
//!     cargo bench --bench accounts_lag                       # 300 bindings, 100 per account
//!     BENCH_PER_ACCOUNT=20 cargo bench --bench accounts_lag  # a smoke run
//!
//! Per account, the lag runs from sending the resolve webhook to the latest `ended_at` of that
//! account's bindings (the service's clock, on this machine); the total runs until the service's
//! `breakglass_revocations_total` counts every binding.

#[allow(dead_code)]
#[path = "../tests/integration/elevation_support.rs"]
mod elevation_support;
#[allow(dead_code)]
#[path = "../tests/integration/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "loadgen/iam.rs"]
mod loadgen_iam;
#[allow(dead_code)]
#[path = "../tests/integration/moto.rs"]
mod moto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use elevation_support::{resolve_body, Elev, INCIDENT, READ_POLICY};
use harness::{Extra, TestApp, ADMIN_TOKEN, ALICE_TOKEN};
use serde_json::json;
use tokio::sync::Semaphore;

const CLIENT_CONCURRENCY: usize = 64;
/// The accounts, by catalogue name and id: the service's own (moto's default) first.
const ACCOUNTS: [(&str, &str); 3] = [
    ("default", "123456789012"),
    ("prod", "111111111111"),
    ("staging", "222222222222"),
];

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let per_account: usize = std::env::var("BENCH_PER_ACCOUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let moto = moto::Moto::start();
    let roles: String = (0..per_account)
        .map(|i| {
            format!(
                "[[roles]]\nname = \"lag-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\naccounts = [\"default\", \"prod\", \"staging\"]\n"
            )
        })
        .collect();
    let members: String = ACCOUNTS[1..]
        .iter()
        .map(|(name, id)| {
            format!(
                "[[aws.accounts]]\nname = \"{name}\"\nid = \"{id}\"\ngranter_role_arn = \"arn:aws:iam::{id}:role/breakglass-granter\"\n"
            )
        })
        .collect();
    let tail = format!(
        "\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{url}\"\n\n{members}\n\
         [elevation]\nmax_active_per_subject = 100000\nrequests_per_minute = 1000000\n\n{roles}",
        url = moto.url()
    );
    let app = TestApp::start_with(Extra {
        tail: &tail,
        ..Extra::default()
    })
    .await;
    let e = Arc::new(Elev { app, moto });
    e.open_incident().await;

    let gate = Arc::new(Semaphore::new(CLIENT_CONCURRENCY));
    let mut grants = tokio::task::JoinSet::new();
    for (account, _) in ACCOUNTS {
        for i in 0..per_account {
            let (e, gate) = (e.clone(), gate.clone());
            grants.spawn(async move {
                let _slot = gate.acquire().await.unwrap();
                let (status, body) = e
                    .elevate(
                        ALICE_TOKEN,
                        json!({"incident": INCIDENT, "role": format!("lag-{i}"), "duration": "1h",
                               "reason": "bench", "account": account}),
                    )
                    .await;
                assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
            });
        }
    }
    while let Some(done) = grants.join_next().await {
        done.unwrap();
    }
    let n = per_account * ACCOUNTS.len();

    let resolved_at = Utc::now();
    let started = Instant::now();
    let (status, _) = e.app.pagerduty(&resolve_body("PFQZPSY")).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    loop {
        if e.app.metric("breakglass_revocations_total").await as usize >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "revocation stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = started.elapsed();

    // Per account: the latest end among its bindings, and every role gone there.
    let (_, incident) = e
        .app
        .get(&format!("/v1/incidents/{INCIDENT}"), ADMIN_TOKEN)
        .await;
    let bindings = incident["bindings"].as_array().expect("bindings");
    assert_eq!(bindings.len(), n);
    let mut lags = Vec::new();
    for (account, id) in ACCOUNTS {
        let ended: Vec<DateTime<Utc>> = bindings
            .iter()
            .filter(|b| b["account"] == account)
            .map(|b| {
                assert_eq!(b["status"], "revoked", "{b}");
                b["ended_at"].as_str().unwrap().parse().unwrap()
            })
            .collect();
        assert_eq!(ended.len(), per_account);
        let last = ended.into_iter().max().unwrap();
        let iam = if account == "default" {
            e.moto.client()
        } else {
            e.moto.client_in(id).await
        };
        let left = iam
            .list_roles()
            .path_prefix("/breakglass/")
            .send()
            .await
            .unwrap();
        assert!(left.roles().is_empty(), "roles left in {account}");
        lags.push((
            account,
            id,
            (last - resolved_at).to_std().unwrap_or_default(),
            iam,
        ));
    }

    println!("accounts_lag: resolve to every role gone, {per_account} bindings in each of 3 accounts, against moto");
    println!(
        "  {:<22}  {:>8}  {:>8}  {:>10}  {:>6}",
        "account", "bindings", "lag", "floor", "ratio"
    );
    for (account, id, lag, iam) in lags {
        let floor = loadgen_iam::floor_with(iam, per_account, &gate).await;
        row(&format!("{account} ({id})"), per_account, lag, floor);
    }
    let floor = loadgen_iam::floor(&e.moto, n, &gate).await;
    row("all three", n, total, floor);
}

fn row(label: &str, n: usize, lag: Duration, floor: Duration) {
    println!(
        "  {label:<22}  {n:>8}  {:>6.0}ms  {:>8.0}ms  {:>5.2}x",
        lag.as_secs_f64() * 1000.0,
        floor.as_secs_f64() * 1000.0,
        lag.as_secs_f64() / floor.as_secs_f64()
    );
}
