//! Proof that live sessions end, on an IAM that enforces policy: ministack with `AUTH=true`
//! (moto evaluates no policy at all). alice is a real IAM user there, with keys; she assumes the
//! role the service granted her through STS and uses the session. After the incident resolves
//! the same session credentials are refused; and a grant left alone, with no service to revoke
//! it, stops working at its expiry through its `aws:CurrentTime` conditions alone.

use std::time::{Duration, Instant};

use aws_sdk_iam::config::Credentials;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::elevation_support::{resolve_body, INCIDENT};
use crate::harness::*;
use crate::ministack::{Ministack, ACCOUNT};

/// What the granted role lets its holder do: read IAM users and roles.
const IAM_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListRoles","iam:GetUser"],"Resource":"*"}]}"#;

struct Live {
    app: TestApp,
    ms: Ministack,
    /// alice's own long-term keys.
    alice: Credentials,
}

impl Live {
    async fn start() -> Live {
        let ms = Ministack::start();
        let alice = alice_user(&ms).await;
        let tail = format!(
            r#"
[aws]
region = "us-east-1"
endpoint_url = "{url}"
role_path = "/breakglass/"

[[roles]]
name = "iam-read"
max_duration = "1h"
policy = '{IAM_READ}'
"#,
            url = ms.url()
        );
        let app = TestApp::start_with(Extra {
            tail: &tail,
            ..Extra::default()
        })
        .await;
        let (status, _) = app
            .pagerduty(&fixture("pagerduty/incident.triggered.json"))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        Live { app, ms, alice }
    }
}

/// alice asks for `iam-read`; returns the binding.
async fn elevate(app: &TestApp, duration: Value) -> Value {
    let res = app
            .http
            .post(app.url("/v1/elevations"))
            .bearer_auth(ALICE_TOKEN)
            .json(&json!({"incident": INCIDENT, "role": "iam-read", "duration": duration, "reason": "live session"}))
            .send()
            .await
            .expect("elevation request");
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// alice assumes the role with her own keys, through STS.
async fn assume(
    ms: &Ministack,
    alice: &Credentials,
    role_arn: &str,
) -> Result<Credentials, String> {
    let out = ms
        .sts_as(alice.clone())
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("alice-incident")
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_sts::error::DisplayErrorContext(e)))?;
    let c = out.credentials().expect("session credentials");
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "alice-session",
    ))
}

impl Live {
    async fn binding(&self, id: &str) -> Value {
        let res = self
            .app
            .http
            .request(Method::GET, self.app.url(&format!("/v1/elevations/{id}")))
            .bearer_auth(ALICE_TOKEN)
            .send()
            .await
            .expect("GET elevation");
        res.json().await.unwrap()
    }
}

/// alice as an IAM user in ministack, allowed to call sts:AssumeRole on breakglass roles (unlike
/// AWS, ministack also asks for an identity policy when the trust policy names the user), with
/// access keys.
async fn alice_user(ms: &Ministack) -> Credentials {
    let iam = ms.root();
    let user = iam.create_user().user_name("alice").send().await.unwrap();
    assert_eq!(
        user.user().unwrap().arn(),
        format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "alice's ARN must be the test config's aws_principal"
    );
    let assume = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{ACCOUNT}:role/breakglass/*"}}]}}"#
    );
    iam.put_user_policy()
        .user_name("alice")
        .policy_name("assume-breakglass")
        .policy_document(assume)
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "alice",
    )
}

/// Use the session: `Ok` if IAM serves the read, else the error's code.
async fn use_session(ms: &Ministack, session: &Credentials) -> Result<(), String> {
    ms.iam_as(session.clone())
        .list_roles()
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            e.as_service_error()
                .and_then(|s| aws_sdk_iam::error::ProvideErrorMetadata::code(s))
                .map_or_else(|| format!("{e:?}"), str::to_string)
        })
}

fn time(binding: &Value, field: &str) -> DateTime<Utc> {
    binding[field].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_session_in_use_is_refused_once_the_incident_resolves() {
    let live = Live::start().await;
    let (ms, alice) = (&live.ms, &live.alice);
    let b = elevate(&live.app, json!("30m")).await;
    let id = b["id"].as_str().unwrap();
    let role_arn = b["role_arn"].as_str().unwrap();

    // Only alice may assume it: the account's root, named nowhere in the trust policy, may not.
    let root = ms.root();
    let root_assume = ms
        .sts_as(ms.root_credentials())
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("not-alice")
        .send()
        .await;
    assert!(root_assume.is_err(), "root assumed alice's role");

    let session = assume(ms, alice, role_arn)
        .await
        .expect("alice assumes her role");
    assert_eq!(use_session(ms, &session).await, Ok(()));
    // The session holds the role's rights and no others.
    let refused = ms
        .iam_as(session.clone())
        .list_users()
        .send()
        .await
        .expect_err("ListUsers is not in the role's policy");
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&refused),
        Some("AccessDenied")
    );

    // The session was issued a second or more before the resolve.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(use_session(ms, &session).await, Ok(()));
    assert_eq!(
        live.app.pagerduty(&resolve_body("PFQZPSY")).await.0,
        StatusCode::ACCEPTED
    );
    let started = Instant::now();
    loop {
        let read = live.binding(id).await;
        if read["status"] == "revoked" {
            assert_eq!(read["end_reason"], "incident_resolved");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{read}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "live_sessions: revoked {:?} after the resolve",
        started.elapsed()
    );

    // The same session credentials are now refused, and the role cannot be assumed again.
    assert_eq!(
        use_session(ms, &session).await,
        Err("AccessDenied".to_string())
    );
    assert!(assume(ms, alice, role_arn).await.is_err());
    let left = root
        .list_roles()
        .path_prefix("/breakglass/")
        .send()
        .await
        .unwrap();
    assert!(left.roles().is_empty(), "{:?}", left.roles());
}

#[tokio::test]
async fn a_five_second_grant_left_alone_stops_working_at_its_expiry() {
    let Live { app, ms, alice } = Live::start().await;
    let b = elevate(&app, json!(5)).await;
    // Left alone: no service (and no Redis) remains to revoke it. Only the expiry conditions IAM
    // holds on the role can end the access.
    drop(app);
    let expires = time(&b, "expires_at");
    let role_arn = b["role_arn"].as_str().unwrap();

    let session = assume(&ms, &alice, role_arn)
        .await
        .expect("alice assumes her role");
    assert_eq!(use_session(&ms, &session).await, Ok(()));

    // Works until the expiry, refused from just after it. The policies bound `aws:CurrentTime`
    // by the expiry in whole seconds, cut down (`policy::timestamp`), so access ends at the
    // start of the expiry's second: up to a second before `expires_at` as the API shows it.
    let whole = DateTime::from_timestamp(expires.timestamp(), 0).unwrap();
    loop {
        let now = Utc::now();
        let used = use_session(&ms, &session).await;
        if now >= expires + chrono::Duration::milliseconds(1100) {
            assert_eq!(
                used,
                Err("AccessDenied".to_string()),
                "still works at {now}, expiry {expires}"
            );
            break;
        }
        if Utc::now() < whole - chrono::Duration::milliseconds(200) {
            assert_eq!(used, Ok(()), "refused at {now}, before expiry {expires}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nor can a new session be had, though the role is still there.
    assert!(assume(&ms, &alice, role_arn).await.is_err());
    let role_name = role_arn.rsplit('/').next().unwrap();
    ms.root()
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .expect("the role was left in place: the refusal is its expiry conditions' doing");
}
