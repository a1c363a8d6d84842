//! Identity Center people on an IAM that evaluates trust policies: ministack with `AUTH=true`.
//!
//! ministack has no Identity Center, so the scene stands in for it: a permission-set role
//! `AWSReservedSSO_Responder_0a1b2c3d` under `/aws-reserved/sso.amazonaws.com/`, and alice and
//! bob each "signing in" by assuming it with their user name as the session name, which is what
//! Identity Center does (in AWS nobody but Identity Center can assume that role: its trust
//! policy is AWS's). Both then hold sessions of the same role. alice, configured as
//! `identity_center_user`, is granted a role; her session can assume it, bob's cannot.

use aws_sdk_iam::config::Credentials;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::elevation_support::INCIDENT;
use crate::harness::*;
use crate::ministack::{Ministack, ACCOUNT};

const SET_ROLE: &str = "AWSReservedSSO_Responder_0a1b2c3d";
const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListRoles"],"Resource":"*"}]}"#;

/// An IAM user with keys, allowed to assume the permission-set role (standing in for signing in).
async fn person(ms: &Ministack, name: &str) -> Credentials {
    let iam = ms.root();
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("sign-in")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{SET_ROLE}"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "person",
    )
}

/// The permission-set role: trusted by alice and bob (Identity Center in AWS), allowed to
/// assume breakglass roles, as a permission set that allows it would be.
async fn permission_set_role(ms: &Ministack) {
    let iam = ms.root();
    iam.create_role()
        .role_name(SET_ROLE)
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{ACCOUNT}:user/alice","arn:aws:iam::{ACCOUNT}:user/bob"]}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(SET_ROLE)
        .policy_name("assume-breakglass")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{ACCOUNT}:role/breakglass/*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
}

async fn assume(
    ms: &Ministack,
    who: &Credentials,
    role_arn: &str,
    session: &str,
) -> Result<Credentials, String> {
    let out = ms
        .sts_as(who.clone())
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_sts::error::DisplayErrorContext(e)))?;
    let c = out.credentials().expect("session credentials");
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "session",
    ))
}

#[tokio::test]
async fn only_the_identity_center_persons_own_session_can_assume_their_grant() {
    let ms = Ministack::start();
    permission_set_role(&ms).await;
    let alice = person(&ms, "alice").await;
    let bob = person(&ms, "bob").await;
    let set_role_arn =
        format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{SET_ROLE}");
    let sign_in = |who: &Credentials, user: &str| {
        let (ms, who, arn, user) = (&ms, who.clone(), set_role_arn.clone(), user.to_owned());
        async move { assume(ms, &who, &arn, &user).await.expect("sign-in") }
    };
    let alice_sso = sign_in(&alice, "alice@example.com").await;
    let bob_sso = sign_in(&bob, "bob@example.com").await;

    let responders = r#"[[responders]]
email = "alice@example.com"
identity_center_user = "alice@example.com"
pagerduty = "PJ0LVEB"
"#;
    let tail = format!(
        r#"
[aws]
region = "us-east-1"
endpoint_url = "{url}"

[aws.identity_center]
role_arn = "{set_role_arn}"

[[roles]]
name = "iam-read"
max_duration = "1h"
policy = '{READ}'
"#,
        url = ms.url()
    );
    let app = TestApp::start_with(Extra {
        tail: &tail,
        responders: Some(responders),
        ..Extra::default()
    })
    .await;
    let (status, _) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let res = app
        .http
        .post(app.url("/v1/elevations"))
        .bearer_auth(ALICE_TOKEN)
        .json(
            &json!({"incident": INCIDENT, "role": "iam-read", "duration": "30m",
                      "reason": "replica lag on checkout"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let b: Value = res.json().await.unwrap();
    let session_arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{SET_ROLE}/alice@example.com");
    assert_eq!(b["principal_arn"], session_arn.as_str());
    let role_arn = b["role_arn"].as_str().unwrap();

    // alice's Identity Center session assumes her grant and uses it.
    let granted = assume(&ms, &alice_sso, role_arn, "alice-incident")
        .await
        .expect("alice's session assumes her grant");
    ms.iam_as(granted)
        .list_roles()
        .send()
        .await
        .expect("the grant works");
    // bob holds a session of the very same permission-set role, and is refused.
    let refused = assume(&ms, &bob_sso, role_arn, "bob-incident").await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("AccessDenied")),
        "{refused:?}"
    );
    // So is alice herself outside her Identity Center session (her IAM user).
    let refused = assume(&ms, &alice, role_arn, "alice-direct").await;
    assert!(refused.is_err(), "{refused:?}");

    // The control: a role trusting the permission-set role itself (what breakglass refuses to
    // write) lets bob in. So the refusal above is the trust policy's doing, not the emulator's.
    ms.root()
        .create_role()
        .role_name("trusts-the-whole-set")
        .path("/breakglass/")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{set_role_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let whole_set = format!("arn:aws:iam::{ACCOUNT}:role/breakglass/trusts-the-whole-set");
    assume(&ms, &bob_sso, &whole_set, "bob-incident")
        .await
        .expect("a role trusting the permission set admits anyone holding it");
}
