//! Grants in many accounts, against moto with three: the service's own (123456789012, moto's
//! default for the service's local keys) and two member accounts reached through granter roles,
//! `prod` (111111111111) and `staging` (222222222222). moto keeps IAM per account and serves the
//! account of the credentials an AssumeRole returned, so a role made through `prod`'s granter is
//! in 111111111111's IAM and nowhere else.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::elevation_support::{Elev, INCIDENT, READ_POLICY};
use crate::harness::*;
use crate::moto::{policy_json, Moto};

const PROD: &str = "111111111111";
const STAGING: &str = "222222222222";
const OWN: &str = "123456789012";

/// The catalogue: prod and staging through their granter roles; `multi` may be granted in both,
/// `home` only in the service's own account.
fn accounts(moto: &Moto, granter_session: &str) -> String {
    format!(
        r#"
[aws]
region = "us-east-1"
endpoint_url = "{url}"

[[aws.accounts]]
name = "prod"
id = "{PROD}"
granter_role_arn = "arn:aws:iam::{PROD}:role/breakglass-granter"
external_id = "bg-prod-7d41"
{granter_session}

[[aws.accounts]]
name = "staging"
id = "{STAGING}"
granter_role_arn = "arn:aws:iam::{STAGING}:role/breakglass-granter"

[revocation]
reconcile_interval = "1s"

[[roles]]
name = "multi"
max_duration = "1h"
policy = '{READ_POLICY}'
accounts = ["prod", "staging"]

[[roles]]
name = "home"
max_duration = "1h"
policy = '{READ_POLICY}'
"#,
        url = moto.url()
    )
}

async fn start(granter_session: &str) -> Elev {
    let moto = Moto::start();
    let tail = accounts(&moto, granter_session);
    let app = TestApp::start_with(Extra {
        tail: &tail,
        ..Extra::default()
    })
    .await;
    Elev { app, moto }
}

async fn roles_in(moto: &Moto, account: &str) -> Vec<String> {
    let iam = if account == OWN {
        moto.client()
    } else {
        moto.client_in(account).await
    };
    let out = iam
        .list_roles()
        .path_prefix("/breakglass/")
        .send()
        .await
        .expect("ListRoles");
    out.roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect()
}

async fn until_empty(moto: &Moto, account: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left = roles_in(moto, account).await;
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "roles left in {account}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ask(e: &Elev, role: &str, account: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"incident": INCIDENT, "role": role, "duration": "30m",
                          "reason": "replica lag on checkout"});
    if let Some(account) = account {
        body["account"] = json!(account);
    }
    e.elevate(ALICE_TOKEN, body).await
}

#[tokio::test]
async fn a_role_allowed_in_two_accounts_is_granted_in_the_one_asked_for_and_nowhere_else() {
    let e = start("").await;
    e.open_incident().await;

    let (status, prod) = ask(&e, "multi", Some("prod")).await;
    assert_eq!(status, StatusCode::CREATED, "{prod}");
    assert_eq!(prod["account"], "prod");
    let role_name = prod["role_name"].as_str().unwrap().to_string();
    assert!(
        prod["role_arn"]
            .as_str()
            .unwrap()
            .starts_with(&format!("arn:aws:iam::{PROD}:role/breakglass/")),
        "{prod}"
    );
    assert_eq!(
        roles_in(&e.moto, PROD).await,
        std::slice::from_ref(&role_name)
    );
    assert!(roles_in(&e.moto, STAGING).await.is_empty());
    assert!(roles_in(&e.moto, OWN).await.is_empty());

    // The trust policy in prod names the responder and nobody else.
    let role = e
        .moto
        .client_in(PROD)
        .await
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .expect("GetRole in prod");
    let tagged = role.role().unwrap().tags();
    assert!(
        tagged
            .iter()
            .any(|t| t.key() == "breakglass:account" && t.value() == "prod"),
        "{tagged:?}"
    );
    let trust = policy_json(role.role().unwrap().assume_role_policy_document().unwrap());
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{trust}");
    assert_eq!(
        statements[0]["Principal"],
        json!({"AWS": "arn:aws:iam::123456789012:user/alice"})
    );

    // Asking again for the same account returns the same binding; another account is another.
    let (status, again) = ask(&e, "multi", Some("prod")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], prod["id"]);
    let (status, staging) = ask(&e, "multi", Some("staging")).await;
    assert_eq!(status, StatusCode::CREATED, "{staging}");
    assert_eq!(staging["account"], "staging");
    assert_eq!(roles_in(&e.moto, STAGING).await.len(), 1);

    // A role of one account needs no account named; one of two does; an account it is not
    // granted in is refused.
    let (status, home) = ask(&e, "home", None).await;
    assert_eq!(status, StatusCode::CREATED, "{home}");
    assert_eq!(home["account"], "default");
    assert_eq!(roles_in(&e.moto, OWN).await.len(), 1);
    let (status, body) = ask(&e, "multi", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prod, staging"),
        "{body}"
    );
    let (status, body) = ask(&e, "home", Some("prod")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "role_not_allowed");

    // Resolving the incident removes the roles in every account.
    e.resolve().await;
    for account in [PROD, STAGING, OWN] {
        until_empty(&e.moto, account, Duration::from_secs(10)).await;
    }
    for b in [&prod, &staging, &home] {
        let read = e
            .until_revoked(b["id"].as_str().unwrap(), Duration::from_secs(5))
            .await;
        assert_eq!(read["end_reason"], "incident_resolved");
    }
    // The review says which account each binding was in.
    let requested: Vec<Value> = e
        .app
        .audit_export()
        .await
        .into_iter()
        .filter(|ev| ev["type"] == "elevation.requested")
        .collect();
    let mut accounts: Vec<&str> = requested
        .iter()
        .map(|ev| ev["data"]["account"].as_str().unwrap())
        .collect();
    accounts.sort_unstable();
    assert_eq!(accounts, ["default", "prod", "staging"]);
}

#[tokio::test]
async fn the_reconciler_removes_orphans_in_each_account() {
    let e = start("").await;
    for account in [PROD, STAGING] {
        e.moto
            .client_in(account)
            .await
            .create_role()
            .role_name(format!("breakglass-orphan{account}"))
            .path("/breakglass/")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await
            .expect("CreateRole");
    }
    assert_eq!(roles_in(&e.moto, PROD).await.len(), 1);
    for account in [PROD, STAGING] {
        until_empty(&e.moto, account, Duration::from_secs(10)).await;
    }
    // The audit trail names the account of each removal (written just after the delete).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let removed = e
            .app
            .audit_export()
            .await
            .into_iter()
            .filter(|ev| ev["type"] == "reconciler.role_removed")
            .map(|ev| ev["data"]["account"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>();
        if removed.len() == 2 || Instant::now() > deadline {
            assert_eq!(removed, ["prod".to_string(), "staging".to_string()].into());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_granter_session_is_renewed_before_it_ends() {
    // A 10-second granter session (moto takes any length), renewed from 2.5 s (plus jitter) before its end.
    let e = start("granter_session = \"10s\"").await;
    e.open_incident().await;
    let (status, first) = ask(&e, "multi", Some("prod")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    const SESSIONS: &str = "breakglass_account_credentials_total{account=\"prod\",outcome=\"ok\"}";
    assert_eq!(e.app.metric(SESSIONS).await, 1);
    // Past the renewal point, still inside the first session: the next call renews it.
    tokio::time::sleep(Duration::from_millis(9_200)).await;
    let (status, second) = ask(&e, "multi", Some("staging")).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    e.call(
        reqwest::Method::DELETE,
        &format!("/v1/elevations/{}", first["id"].as_str().unwrap()),
        ALICE_TOKEN,
    )
    .await;
    until_empty(&e.moto, PROD, Duration::from_secs(10)).await;
    assert_eq!(e.app.metric(SESSIONS).await, 2, "one session, renewed once");
    assert_eq!(
        e.app
            .metric("breakglass_account_credentials_total{account=\"prod\",outcome=\"error\"}")
            .await,
        0
    );
}

#[tokio::test]
async fn start_up_refuses_a_config_that_dropped_an_account_with_live_bindings() {
    let e = start("").await;
    e.open_incident().await;
    let (status, b) = ask(&e, "multi", Some("staging")).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");

    // The same Redis, a config whose catalogue lost `staging` (and the role's mention of it).
    let without = accounts(&e.moto, "").replace(
        &format!(
            "[[aws.accounts]]\nname = \"staging\"\nid = \"{STAGING}\"\ngranter_role_arn = \"arn:aws:iam::{STAGING}:role/breakglass-granter\"\n"
        ),
        "",
    );
    let without = without.replace(
        "accounts = [\"prod\", \"staging\"]",
        "accounts = [\"prod\"]",
    );
    assert!(!without.contains("staging"), "{without}");
    let text = config_toml(
        &e.app.redis.url(),
        &Extra {
            tail: &without,
            ..Extra::default()
        },
    );
    let config = breakglass::Config::from_toml_str(&text).expect("the config itself is valid");
    let refused = breakglass::App::build(config.clone())
        .await
        .err()
        .expect("start-up refuses");
    let message = refused.to_string();
    assert!(
        message.contains("account `staging` holds 1 live binding(s)")
            && message.contains("put it back"),
        "{message}"
    );

    // Once the binding has ended, the same config starts.
    e.resolve().await;
    e.until_revoked(b["id"].as_str().unwrap(), Duration::from_secs(10))
        .await;
    let app = breakglass::App::build(config)
        .await
        .expect("starts once nothing is left");
    app.shutdown_handle().shutdown();
}
