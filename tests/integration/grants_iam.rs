//! The IAM adapter against a real IAM endpoint (moto's server): what a grant creates is read back
//! from IAM and checked against CONTRACT.md's "AWS IAM shape of a grant", and failed grants and
//! revocations leave nothing behind.

use aws_sdk_iam::types::Tag;
use breakglass::grants::{GrantError, GrantSpec, Grants};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::moto::{policy_json, Moto};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const EXPIRES: &str = "2030-01-02T03:04:05Z";
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["rds:Describe*"],"Resource":"*"},
    {"Effect":"Deny","Action":"rds:Delete*","Resource":"*"},
    {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*",
     "Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;

fn expires_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(EXPIRES)
        .unwrap()
        .with_timezone(&Utc)
}

fn spec<'a>(binding_id: &'a str, managed_policies: &'a [String]) -> GrantSpec<'a> {
    GrantSpec {
        binding_id,
        incident: "pagerduty:PFQZPSY",
        account: "default",
        subject: "alice@example.com",
        principal_arn: ALICE,
        policy: POLICY,
        managed_policies,
        permissions_boundary: None,
        expires_at: expires_at(),
    }
}

/// A customer managed policy in moto; its ARN.
async fn managed_policy(moto: &Moto, name: &str) -> String {
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
    let created = moto
        .client()
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .expect("CreatePolicy in moto");
    created.policy().unwrap().arn().unwrap().to_string()
}

async fn role_exists(moto: &Moto, role_name: &str) -> bool {
    match moto.client().get_role().role_name(role_name).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(e) => panic!("GetRole {role_name}: {e:?}"),
    }
}

#[tokio::test]
async fn grant_creates_a_role_under_the_path_trusted_only_by_the_principal_until_expiry() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;

    let granted = grants.grant(&spec("aaaabbbbcccc0001", &[])).await.unwrap();

    assert_eq!(granted.role_name, "breakglass-aaaabbbbcccc0001");
    let role = moto
        .client()
        .get_role()
        .role_name(&granted.role_name)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.arn(), granted.role_arn);
    assert!(
        granted
            .role_arn
            .ends_with(":role/breakglass/breakglass-aaaabbbbcccc0001"),
        "{}",
        granted.role_arn
    );
    assert_eq!(role.path(), "/breakglass/");
    assert_eq!(role.max_session_duration(), Some(3600));
    assert!(role.permissions_boundary().is_none());
    assert_eq!(
        policy_json(role.assume_role_policy_document().unwrap()),
        json!({"Version":"2012-10-17","Statement":[{
            "Effect":"Allow",
            "Principal":{"AWS":ALICE},
            "Action":"sts:AssumeRole",
            "Condition":{"DateLessThan":{"aws:CurrentTime":EXPIRES}},
        }]})
    );
}

#[tokio::test]
async fn grant_tags_the_role_with_incident_subject_binding_and_expiry() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;

    let granted = grants.grant(&spec("aaaabbbbcccc0002", &[])).await.unwrap();

    let tags = moto
        .client()
        .list_role_tags()
        .role_name(&granted.role_name)
        .send()
        .await
        .unwrap();
    let mut tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("breakglass:account", "default"),
            ("breakglass:binding", "aaaabbbbcccc0002"),
            ("breakglass:expires-at", EXPIRES),
            ("breakglass:incident", "pagerduty:PFQZPSY"),
            ("breakglass:subject", "alice@example.com"),
        ]
    );
}

#[tokio::test]
async fn every_allow_statement_of_the_inline_policy_expires_with_the_binding() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;

    let granted = grants.grant(&spec("aaaabbbbcccc0003", &[])).await.unwrap();

    let client = moto.client();
    let names = client
        .list_role_policies()
        .role_name(&granted.role_name)
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["breakglass"]);
    let inline = client
        .get_role_policy()
        .role_name(&granted.role_name)
        .policy_name("breakglass")
        .send()
        .await
        .unwrap();
    let document = policy_json(inline.policy_document());
    let expiry = json!({"DateLessThan": {"aws:CurrentTime": EXPIRES}});
    let statements = document["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    assert_eq!(statements[0]["Condition"], expiry);
    assert_eq!(
        statements[1],
        json!({"Effect":"Deny","Action":"rds:Delete*","Resource":"*"}),
        "deny statements stay as they are"
    );
    assert_eq!(
        statements[2]["Condition"],
        json!({"Bool": {"aws:SecureTransport": "true"}, "DateLessThan": {"aws:CurrentTime": EXPIRES}})
    );
    for statement in statements.iter().filter(|s| s["Effect"] == "Allow") {
        assert_eq!(
            statement["Condition"]["DateLessThan"]["aws:CurrentTime"],
            Value::from(EXPIRES)
        );
    }
}

#[tokio::test]
async fn grant_sets_the_permissions_boundary_and_attaches_managed_policies() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    let managed = vec![managed_policy(&moto, "ec2-describe").await];
    let boundary = managed_policy(&moto, "breakglass-boundary").await;

    let granted = grants
        .grant(&GrantSpec {
            permissions_boundary: Some(&boundary),
            ..spec("aaaabbbbcccc0004", &managed)
        })
        .await
        .unwrap();

    let client = moto.client();
    let role = client
        .get_role()
        .role_name(&granted.role_name)
        .send()
        .await
        .unwrap();
    let set = role.role().unwrap().permissions_boundary().unwrap();
    assert_eq!(set.permissions_boundary_arn(), Some(boundary.as_str()));
    let attached = client
        .list_attached_role_policies()
        .role_name(&granted.role_name)
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, [managed[0].as_str()]);
}

#[tokio::test]
async fn a_retried_grant_for_the_same_binding_finds_its_own_role() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    let managed = vec![managed_policy(&moto, "ec2-describe").await];

    let first = grants
        .grant(&spec("aaaabbbbcccc0005", &managed))
        .await
        .unwrap();
    let again = grants
        .grant(&spec("aaaabbbbcccc0005", &managed))
        .await
        .unwrap();

    assert_eq!(first, again);
    assert_eq!(
        grants.list_roles().await.unwrap(),
        ["breakglass-aaaabbbbcccc0005"]
    );
}

#[tokio::test]
async fn a_role_name_held_by_another_binding_is_a_conflict_and_is_left_alone() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    let client = moto.client();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    let tag = Tag::builder()
        .key("breakglass:binding")
        .value("someoneelse00000")
        .build()
        .unwrap();
    for (name, tags) in [
        ("breakglass-aaaabbbbcccc0006", vec![tag]),
        ("breakglass-aaaabbbbcccc0007", vec![]),
    ] {
        client
            .create_role()
            .role_name(name)
            .path("/breakglass/")
            .assume_role_policy_document(trust)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap();
    }

    let tagged = grants.grant(&spec("aaaabbbbcccc0006", &[])).await;
    let untagged = grants.grant(&spec("aaaabbbbcccc0007", &[])).await;

    match tagged {
        Err(GrantError::Conflict {
            role_name, owner, ..
        }) => {
            assert_eq!(role_name, "breakglass-aaaabbbbcccc0006");
            assert!(owner.contains("someoneelse00000"), "{owner}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        matches!(untagged, Err(GrantError::Conflict { .. })),
        "{untagged:?}"
    );
    // Not ours: neither role is touched, and no policy was put on them.
    for name in ["breakglass-aaaabbbbcccc0006", "breakglass-aaaabbbbcccc0007"] {
        assert!(role_exists(&moto, name).await, "{name} was deleted");
        let inline = client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap();
        assert!(inline.policy_names().is_empty());
    }
}

#[tokio::test]
async fn a_grant_whose_managed_policy_does_not_exist_fails_and_leaves_no_role() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    let real = managed_policy(&moto, "ec2-describe").await;
    let managed = vec![
        real,
        "arn:aws:iam::123456789012:policy/does-not-exist".to_string(),
    ];

    let result = grants.grant(&spec("aaaabbbbcccc0008", &managed)).await;

    match &result {
        Err(GrantError::Iam {
            operation,
            code,
            retryable,
            ..
        }) => {
            assert_eq!(*operation, "AttachRolePolicy");
            assert_eq!(code, "NoSuchEntity");
            assert!(!retryable);
        }
        other => panic!("expected an IAM error, got {other:?}"),
    }
    assert!(!role_exists(&moto, "breakglass-aaaabbbbcccc0008").await);
    assert!(grants.list_roles().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_policy_iam_refuses_fails_the_grant_and_leaves_no_role() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    // Has an Effect (so it passes our checks) but no Action: IAM says MalformedPolicyDocument.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#;

    let result = grants
        .grant(&GrantSpec {
            policy,
            ..spec("aaaabbbbcccc0009", &[])
        })
        .await;

    assert!(
        matches!(
            &result,
            Err(GrantError::Iam {
                operation: "PutRolePolicy",
                retryable: false,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(grants.list_roles().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_invalid_policy_template_fails_before_any_iam_call() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;

    let result = grants
        .grant(&GrantSpec {
            policy: r#"{"Statement":[{"Action":"s3:*","Resource":"*"}]}"#,
            ..spec("aaaabbbbcccc0010", &[])
        })
        .await;

    assert!(matches!(result, Err(GrantError::Policy(_))), "{result:?}");
    assert!(grants.list_roles().await.unwrap().is_empty());
}

#[tokio::test]
async fn revoke_removes_the_role_and_is_idempotent() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    let managed = vec![managed_policy(&moto, "ec2-describe").await];
    let granted = grants
        .grant(&spec("aaaabbbbcccc0011", &managed))
        .await
        .unwrap();

    grants.revoke(&granted.role_name).await.unwrap();

    assert!(!role_exists(&moto, &granted.role_name).await);
    assert!(grants.list_roles().await.unwrap().is_empty());
    // Detached, not deleted: managed policies belong to the account, not to the grant.
    let policy = moto
        .client()
        .get_policy()
        .policy_arn(&managed[0])
        .send()
        .await;
    assert_eq!(
        policy.unwrap().policy().unwrap().attachment_count(),
        Some(0)
    );
    // Again, and for a role that never existed: both done.
    grants.revoke(&granted.role_name).await.unwrap();
    grants.revoke("breakglass-neverexisted0000").await.unwrap();
}

#[tokio::test]
async fn list_roles_lists_only_roles_under_the_path() {
    let moto = Moto::start();
    let grants = Grants::from_config(&moto.aws()).await;
    let elsewhere = Grants::from_config(&moto.aws_with_path("/breakglass-staging/")).await;
    grants.grant(&spec("aaaabbbbcccc0012", &[])).await.unwrap();
    grants.grant(&spec("aaaabbbbcccc0013", &[])).await.unwrap();
    elsewhere
        .grant(&spec("aaaabbbbcccc0014", &[]))
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    moto.client()
        .create_role()
        .role_name("unrelated-app-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();

    let mut listed = grants.list_roles().await.unwrap();
    listed.sort();

    assert_eq!(
        listed,
        ["breakglass-aaaabbbbcccc0012", "breakglass-aaaabbbbcccc0013"]
    );
    assert_eq!(
        elsewhere.list_roles().await.unwrap(),
        ["breakglass-aaaabbbbcccc0014"]
    );
}

#[tokio::test]
async fn an_unreachable_iam_endpoint_is_a_retryable_error_naming_the_call() {
    let aws = breakglass::config::Aws {
        region: "us-east-1".into(),
        endpoint_url: Some(format!("http://127.0.0.1:{}", crate::harness::free_port())),
        role_path: "/breakglass/".into(),
        accounts: Vec::new(),
        identity_center: None,
    };
    let grants = Grants::from_config(&aws).await;

    let result = grants.grant(&spec("aaaabbbbcccc0015", &[])).await;

    match &result {
        Err(err @ GrantError::Iam { operation, .. }) => {
            assert_eq!(*operation, "CreateRole");
            assert!(err.is_retryable(), "{err}");
        }
        other => panic!("expected an IAM error, got {other:?}"),
    }
    assert!(grants
        .revoke("breakglass-aaaabbbbcccc0015")
        .await
        .unwrap_err()
        .is_retryable());
}
