//! One account failing holds up nothing elsewhere, on an STS that enforces trust policies:
//! ministack with `AUTH=true` (moto assumes any role asked for, so it cannot refuse a granter).
//! Each member account has a real granter role whose trust names the service's account and
//! requires an ExternalId. `prod` is set up right; `broken` expects another ExternalId than the
//! one configured, so it can never be assumed; `flaky` works until its trust policy is changed
//! under a live binding, and works again when it is put back.

use std::time::{Duration, Instant};

use aws_sdk_iam::config::Credentials;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::elevation_support::{resolve_body, INCIDENT, READ_POLICY};
use crate::harness::*;
use crate::ministack::{Ministack, ACCOUNT};

const PROD: &str = "111111111111";
const BROKEN: &str = "333333333333";
const FLAKY: &str = "444444444444";

/// An account's root in ministack: its 12-digit id as the access key.
fn root_of(account: &str) -> Credentials {
    Credentials::new(account, "secret", None, None, "account-root")
}

fn trust(external_id: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"{external_id}"}}}}}}]}}"#
    )
}

/// The granter role of `account`, trusting the service's account with `external_id`, allowed
/// to manage roles under /breakglass/.
async fn granter(ms: &Ministack, account: &str, external_id: &str) {
    let iam = ms.iam_as(root_of(account));
    iam.create_role()
        .role_name("breakglass-granter")
        .assume_role_policy_document(trust(external_id))
        .send()
        .await
        .expect("CreateRole granter");
    iam.put_role_policy()
        .role_name("breakglass-granter")
        .policy_name("grant")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutRolePolicy granter");
}

async fn roles_in(ms: &Ministack, account: &str) -> Vec<String> {
    let out = ms
        .iam_as(root_of(account))
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

async fn start(ms: &Ministack) -> TestApp {
    let account = |name: &str, id: &str, external_id: &str| {
        format!(
            "[[aws.accounts]]\nname = \"{name}\"\nid = \"{id}\"\n\
             granter_role_arn = \"arn:aws:iam::{id}:role/breakglass-granter\"\n\
             external_id = \"{external_id}\"\ngranter_session = \"10s\"\n"
        )
    };
    let tail = format!(
        r#"
[aws]
region = "us-east-1"
endpoint_url = "{url}"

{prod}
{broken}
{flaky}

[[roles]]
name = "multi"
max_duration = "1h"
policy = '{READ_POLICY}'
accounts = ["prod", "broken", "flaky"]
"#,
        url = ms.url(),
        prod = account("prod", PROD, "bg-prod"),
        broken = account("broken", BROKEN, "bg-wrong"),
        flaky = account("flaky", FLAKY, "bg-flaky"),
    );
    TestApp::start_with(Extra {
        tail: &tail,
        ..Extra::default()
    })
    .await
}

async fn ask(app: &TestApp, account: &str) -> (StatusCode, Value) {
    let res = app
        .http
        .post(app.url("/v1/elevations"))
        .bearer_auth(ALICE_TOKEN)
        .json(
            &json!({"incident": INCIDENT, "role": "multi", "duration": "30m",
                      "reason": "replica lag on checkout", "account": account}),
        )
        .send()
        .await
        .expect("elevation request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn binding(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/elevations/{id}"), ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn until(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "not {what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_granter_that_cannot_be_assumed_fails_its_account_only_and_revocations_wait_for_it() {
    let ms = Ministack::start();
    granter(&ms, PROD, "bg-prod").await;
    granter(&ms, BROKEN, "bg-expected").await;
    granter(&ms, FLAKY, "bg-flaky").await;
    let app = start(&ms).await;
    let (status, _) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The broken account refuses with a 502 naming it; prod and flaky grant.
    let (status, body) = ask(&app, "broken").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "grant_failed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("in account `broken`"), "{message}");
    // The cause is on the failed binding, for the platform team.
    let (_, incident) = app
        .get(&format!("/v1/incidents/{INCIDENT}"), ADMIN_TOKEN)
        .await;
    let failed = incident["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["account"] == "broken")
        .unwrap_or_else(|| panic!("no binding in broken: {incident}"))
        .clone();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!(
                "in account broken ({BROKEN}): cannot assume its granter role"
            ))),
        "{failed}"
    );
    let (status, prod) = ask(&app, "prod").await;
    assert_eq!(status, StatusCode::CREATED, "{prod}");
    let (status, flaky) = ask(&app, "flaky").await;
    assert_eq!(status, StatusCode::CREATED, "{flaky}");
    assert_eq!(roles_in(&ms, PROD).await.len(), 1);
    assert_eq!(roles_in(&ms, FLAKY).await.len(), 1);
    assert!(roles_in(&ms, BROKEN).await.is_empty());
    assert!(
        app.metric("breakglass_account_credentials_total{account=\"broken\",outcome=\"error\"}")
            .await
            >= 1
    );

    // flaky's trust changes under its live binding: once its granter session runs out (10 s),
    // its revocation fails and is retried, while prod's goes through.
    ms.iam_as(root_of(FLAKY))
        .update_assume_role_policy()
        .role_name("breakglass-granter")
        .policy_document(trust("bg-rotated"))
        .send()
        .await
        .expect("UpdateAssumeRolePolicy");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        app.pagerduty(&resolve_body("PFQZPSY")).await.0,
        StatusCode::ACCEPTED
    );
    let prod_id = prod["id"].as_str().unwrap();
    let flaky_id = flaky["id"].as_str().unwrap();
    until("prod revoked", Duration::from_secs(10), async || {
        binding(&app, prod_id).await["status"] == "revoked"
    })
    .await;
    assert!(roles_in(&ms, PROD).await.is_empty());
    until(
        "flaky's revocation retried",
        Duration::from_secs(10),
        async || binding(&app, flaky_id).await["attempts"].as_u64() >= Some(2),
    )
    .await;
    let read = binding(&app, flaky_id).await;
    assert_eq!(read["status"], "revoking", "{read}");
    assert!(
        read["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("in account flaky") && e.contains("cannot assume")),
        "{read}"
    );
    assert_eq!(
        roles_in(&ms, FLAKY).await.len(),
        1,
        "still there, its expiry still bounds it"
    );
    assert!(
        app.metric("breakglass_account_errors_total{account=\"flaky\"}")
            .await
            >= 2
    );

    // Put back, the retried revocation goes through.
    ms.iam_as(root_of(FLAKY))
        .update_assume_role_policy()
        .role_name("breakglass-granter")
        .policy_document(trust("bg-flaky"))
        .send()
        .await
        .expect("UpdateAssumeRolePolicy");
    until("flaky revoked", Duration::from_secs(90), async || {
        binding(&app, flaky_id).await["status"] == "revoked"
    })
    .await;
    assert!(roles_in(&ms, FLAKY).await.is_empty());
}
