//! Revocation's IAM steps against moto, in order: the session-ending deny goes on first and
//! comes off last, just before the role. moto does not enforce `aws:TokenIssueTime`, so the
//! calls themselves are recorded (an interceptor on the real client) and checked.

use std::sync::{Arc, Mutex};

use aws_sdk_iam::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_iam::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_iam::error::BoxError;
use breakglass::grants::{GrantSpec, Grants};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::moto::{percent_decode, Moto};

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}"#;

/// One IAM call's decoded query parameters.
type Call = Vec<(String, String)>;

/// Every IAM call the client makes.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let params = String::from_utf8_lossy(body)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        self.0.lock().unwrap().push(params);
        Ok(())
    }
}

impl Recorder {
    /// The calls that change something: (action, policy name or ARN).
    fn changes(&self) -> Vec<(String, String)> {
        let param =
            |call: &Call, key: &str| call.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|call| {
                let action = param(call, "Action")?;
                if action.starts_with("List") || action.starts_with("Get") {
                    return None;
                }
                let target = param(call, "PolicyName")
                    .or_else(|| param(call, "PolicyArn"))
                    .unwrap_or_default();
                Some((action, target))
            })
            .collect()
    }

    fn document_of(&self, policy_name: &str) -> serde_json::Value {
        let calls = self.0.lock().unwrap();
        let call = calls
            .iter()
            .find(|c| c.iter().any(|(k, v)| k == "PolicyName" && v == policy_name))
            .expect("the policy was put");
        let (_, doc) = call.iter().find(|(k, _)| k == "PolicyDocument").unwrap();
        serde_json::from_str(doc).unwrap()
    }
}

fn recorded(moto: &Moto) -> (Grants, Recorder) {
    let recorder = Recorder::default();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .interceptor(recorder.clone())
        .build();
    let client = aws_sdk_iam::Client::from_conf(config);
    (Grants::with_client(client, "/breakglass/"), recorder)
}

async fn granted(moto: &Moto, binding_id: &str, managed: &[String]) -> String {
    let grants = Grants::from_config(&moto.aws()).await;
    let spec = GrantSpec {
        binding_id,
        incident: "pagerduty:PFQZPSY",
        account: "default",
        subject: "alice@example.com",
        principal_arn: "arn:aws:iam::123456789012:user/alice",
        policy: POLICY,
        managed_policies: managed,
        permissions_boundary: None,
        expires_at: Utc::now() + Duration::hours(1),
    };
    grants.grant(&spec).await.unwrap().role_name
}

#[tokio::test]
async fn revoke_ends_live_sessions_first_and_lifts_that_deny_only_before_deleting_the_role() {
    let moto = Moto::start();
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
    let managed = moto
        .client()
        .create_policy()
        .policy_name("ec2-describe")
        .policy_document(document)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let role = granted(&moto, "aaaabbbbcccc0101", std::slice::from_ref(&managed)).await;
    let (grants, recorder) = recorded(&moto);

    let before = Utc::now();
    grants.revoke(&role).await.unwrap();
    let after = Utc::now();

    assert_eq!(
        recorder.changes(),
        [
            ("PutRolePolicy".into(), "breakglass-revoked".into()),
            ("DeleteRolePolicy".into(), "breakglass".into()),
            ("DetachRolePolicy".into(), managed),
            ("DeleteRolePolicy".into(), "breakglass-revoked".into()),
            ("DeleteRole".into(), String::new()),
        ]
    );
    let deny = recorder.document_of("breakglass-revoked");
    let bound = deny["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .expect("a TokenIssueTime bound")
        .to_string();
    assert_eq!(
        deny,
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{"DateLessThan":{"aws:TokenIssueTime":bound}}}]})
    );
    let bound: DateTime<Utc> = bound.parse().unwrap();
    assert!(
        bound > before && bound <= after + Duration::seconds(1),
        "{bound} is not just after the revocation ({before}..{after})"
    );
    assert!(grants.list_roles().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_revocation_cut_short_after_the_deny_is_finished_by_the_next_one() {
    let moto = Moto::start();
    let role = granted(&moto, "aaaabbbbcccc0102", &[]).await;
    // As a crash right after the first step would leave it.
    moto.client()
        .put_role_policy()
        .role_name(&role)
        .policy_name("breakglass-revoked")
        .policy_document(breakglass::grants::policy::deny_sessions_issued_before(
            Utc::now(),
        ))
        .send()
        .await
        .unwrap();
    let (grants, recorder) = recorded(&moto);

    grants.revoke(&role).await.unwrap();

    assert!(grants.list_roles().await.unwrap().is_empty());
    assert_eq!(
        recorder
            .changes()
            .first()
            .map(|(a, p)| (a.as_str(), p.as_str())),
        Some(("PutRolePolicy", "breakglass-revoked")),
        "the deny is renewed before anything is taken away"
    );
}
