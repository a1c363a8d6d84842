//! The IAM calls of a grant, a revocation and the reconciler's reads, through aws-sdk-iam.
//!
//! The service needs IAM rights only on roles under its path: CreateRole, GetRole, ListRoleTags,
//! PutRolePolicy, AttachRolePolicy, ListRolePolicies, DeleteRolePolicy, ListAttachedRolePolicies,
//! DetachRolePolicy, DeleteRole, and ListRoles.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::Credentials;
use aws_sdk_iam::types::Tag;
use chrono::Utc;

use super::error::iam_error;
use super::REVOKED_POLICY_NAME;
use super::TAG_BINDING;
use super::{
    policy, GrantError, GrantSpec, Granted, Revoked, INLINE_POLICY_NAME, MAX_SESSION_SECS,
};

/// How often revoke starts over when IAM says the role still has policies (a concurrent attach).
const REVOKE_ATTEMPTS: usize = 3;

/// The AWS settings of every call the service makes with its own credentials, from `[aws]`.
/// With `endpoint_url` set (a local emulator such as moto) and no `AWS_ACCESS_KEY_ID` in the
/// environment, static dummy credentials are used, so a local endpoint works without any AWS
/// setup. Otherwise the default AWS credential chain.
pub async fn sdk_config(aws: &crate::config::Aws) -> SdkConfig {
    // An elevation waits on these calls: bound them rather than hang on a stuck connection.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(aws.region.clone()))
        .timeout_config(timeouts);
    if let Some(url) = &aws.endpoint_url {
        loader = loader.endpoint_url(url);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new(
                "breakglass-local",
                "breakglass-local",
                None,
                None,
                "breakglass-local",
            ));
        }
    }
    loader.load().await
}

/// The IAM adapter of one account. Cheap to clone: clones share one HTTP client.
#[derive(Clone)]
pub struct Grants {
    client: aws_sdk_iam::Client,
    role_path: String,
}

impl Grants {
    /// Build from `[aws]`, for the service's own account.
    pub async fn from_config(aws: &crate::config::Aws) -> Self {
        let sdk = sdk_config(aws).await;
        Self::with_client(aws_sdk_iam::Client::new(&sdk), &aws.role_path)
    }

    /// Use a client built elsewhere (tests wrap the real client to inject faults).
    pub fn with_client(client: aws_sdk_iam::Client, role_path: &str) -> Self {
        Self {
            client,
            role_path: role_path.to_string(),
        }
    }

    /// The IAM path every grant's role lives under.
    pub fn role_path(&self) -> &str {
        &self.role_path
    }

    /// Create the binding's role (or find the one an earlier attempt created), put the
    /// expiry-bounded policy on it and attach the managed policies. If any step fails the role
    /// is removed again before the error is returned, so a failed grant leaves nothing behind.
    pub async fn grant(&self, spec: &GrantSpec<'_>) -> Result<Granted, GrantError> {
        // Rendered and checked before any IAM call: a bad template, or a document that does not
        // say exactly what it should, never creates anything.
        let documents = policy::render(spec)?;
        let role_name = &documents.role_name;
        match self.try_grant(spec, &documents).await {
            Ok(granted) => Ok(granted),
            // Someone else's role: not ours to roll back.
            Err(err @ GrantError::Conflict { .. }) => Err(err),
            Err(err) => {
                if let Err(rollback) = self.revoke(role_name).await {
                    tracing::error!(
                        role = %role_name, error = %rollback,
                        "rolling back a failed grant failed; its expiry condition still bounds it"
                    );
                }
                Err(err)
            }
        }
    }

    async fn try_grant(
        &self,
        spec: &GrantSpec<'_>,
        documents: &policy::Documents,
    ) -> Result<Granted, GrantError> {
        let role_name = documents.role_name.as_str();
        let mut create = self
            .client
            .create_role()
            .role_name(role_name)
            .path(&self.role_path)
            .assume_role_policy_document(&documents.trust_policy)
            .max_session_duration(MAX_SESSION_SECS)
            .description(&documents.description)
            .set_permissions_boundary(spec.permissions_boundary.map(str::to_string));
        for (key, value) in &documents.tags {
            create = create.tags(
                Tag::builder()
                    .key(*key)
                    .value(value)
                    .build()
                    .expect("key and value are set"),
            );
        }
        let created = create.send().await.map_err(|e| iam_error("CreateRole", e));
        let role_arn = match created {
            Ok(out) => match out.role() {
                Some(role) => role.arn().to_string(),
                None => self.own_role_arn(spec.binding_id, role_name).await?,
            },
            Err(err) if err.code() == Some("EntityAlreadyExists") => {
                tracing::debug!(role = %role_name, "role exists; checking it is this binding's");
                self.own_role_arn(spec.binding_id, role_name).await?
            }
            Err(err) => return Err(err),
        };
        self.client
            .put_role_policy()
            .role_name(role_name)
            .policy_name(INLINE_POLICY_NAME)
            .policy_document(&documents.inline_policy)
            .send()
            .await
            .map_err(|e| iam_error("PutRolePolicy", e))?;
        for arn in spec.managed_policies {
            self.client
                .attach_role_policy()
                .role_name(role_name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| iam_error("AttachRolePolicy", e))?;
        }
        Ok(Granted {
            role_arn,
            role_name: role_name.to_string(),
        })
    }

    /// The ARN of an existing role, if its `breakglass:binding` tag names this binding.
    async fn own_role_arn(&self, binding_id: &str, role_name: &str) -> Result<String, GrantError> {
        let role = self
            .client
            .get_role()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| iam_error("GetRole", e))?;
        let tags = self
            .role_tags(role_name)
            .await?
            .ok_or_else(|| GrantError::Iam {
                operation: "ListRoleTags",
                code: "NoSuchEntity".into(),
                message: format!("role {role_name} disappeared while being read"),
                retryable: false,
            })?;
        let owner = tags.get(TAG_BINDING).map(String::as_str);
        match (owner, role.role()) {
            (Some(owner), Some(role)) if owner == binding_id => Ok(role.arn().to_string()),
            (owner, _) => Err(GrantError::Conflict {
                role_name: role_name.to_string(),
                binding_id: binding_id.to_string(),
                owner: owner.map_or("no binding (untagged)".into(), |o| format!("binding `{o}`")),
            }),
        }
    }

    /// Remove a binding's role. First an inline deny of everything to sessions issued before
    /// now ([`policy::deny_sessions_issued_before`]), which ends the sessions already handed
    /// out; then the other inline policies and the managed-policy attachments; then the deny
    /// itself, which IAM requires gone before the role; then the role. The deny stays until
    /// nothing else on the role grants anything. `NoSuchEntity` anywhere counts as done (the
    /// role may be gone already), so revoking twice is fine.
    pub async fn revoke(&self, role_name: &str) -> Result<Revoked, GrantError> {
        let mut attempt = 1;
        loop {
            let mut done = Revoked::default();
            match self.try_revoke(role_name, &mut done).await {
                Ok(()) => return Ok(done),
                Err(err) if err.is_no_such_entity() => {
                    done.already_gone = done.role_deleted_at.is_none();
                    return Ok(done);
                }
                Err(err) if err.code() == Some("DeleteConflict") && attempt < REVOKE_ATTEMPTS => {
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn try_revoke(&self, role_name: &str, done: &mut Revoked) -> Result<(), GrantError> {
        let now = Utc::now();
        let denied = self
            .client
            .put_role_policy()
            .role_name(role_name)
            .policy_name(REVOKED_POLICY_NAME)
            .policy_document(policy::deny_sessions_issued_before(now))
            .send()
            .await
            .map_err(|e| iam_error("PutRolePolicy", e));
        match denied {
            Ok(_) => done.sessions_denied_before = Some(now),
            // The service's policy may allow PutRolePolicy only on roles with the permissions
            // boundary (docs/deployment/aws.md); a role made behind its back lacks it. Removing
            // the role still takes away everything it grants, so carry on rather than leave it.
            Err(e) if e.code() == Some("AccessDenied") => {
                tracing::warn!(role = %role_name, "cannot put the session-ending deny (AccessDenied); removing the role anyway");
            }
            Err(e) => return Err(e),
        }
        let inline: Vec<String> = self
            .client
            .list_role_policies()
            .role_name(role_name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_error("ListRolePolicies", e))?;
        for name in inline.iter().filter(|n| *n != REVOKED_POLICY_NAME) {
            self.delete_inline(role_name, name).await?;
            done.inline_policies_deleted.push(name.clone());
        }
        let attached = self
            .client
            .list_attached_role_policies()
            .role_name(role_name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_error("ListAttachedRolePolicies", e))?;
        for arn in attached.iter().filter_map(|p| p.policy_arn()) {
            let detached = self
                .client
                .detach_role_policy()
                .role_name(role_name)
                .policy_arn(arn)
                .send()
                .await;
            gone_is_done(
                detached
                    .map(drop)
                    .map_err(|e| iam_error("DetachRolePolicy", e)),
            )?;
            done.managed_policies_detached.push(arn.to_owned());
        }
        self.delete_inline(role_name, REVOKED_POLICY_NAME).await?;
        self.client
            .delete_role()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| iam_error("DeleteRole", e))?;
        done.role_deleted_at = Some(Utc::now());
        tracing::debug!(role = %role_name, "role deleted");
        Ok(())
    }

    async fn delete_inline(&self, role_name: &str, policy_name: &str) -> Result<(), GrantError> {
        let deleted = self
            .client
            .delete_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .send()
            .await;
        gone_is_done(
            deleted
                .map(drop)
                .map_err(|e| iam_error("DeleteRolePolicy", e)),
        )
    }

    /// A role's tags, key to value, or `None` if the role does not exist. Read per role because
    /// IAM's ListRoles leaves tags out.
    pub async fn role_tags(
        &self,
        role_name: &str,
    ) -> Result<Option<HashMap<String, String>>, GrantError> {
        let listed = self
            .client
            .list_role_tags()
            .role_name(role_name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_error("ListRoleTags", e));
        match listed {
            Ok(tags) => Ok(Some(
                tags.into_iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(err) if err.is_no_such_entity() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Names of every role under the path: what exists, for tests and the reconciler.
    pub async fn list_roles(&self) -> Result<Vec<String>, GrantError> {
        let roles = self
            .client
            .list_roles()
            .path_prefix(&self.role_path)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| iam_error("ListRoles", e))?;
        Ok(roles.iter().map(|r| r.role_name().to_string()).collect())
    }
}

fn gone_is_done(result: Result<(), GrantError>) -> Result<(), GrantError> {
    match result {
        Err(err) if err.is_no_such_entity() => Ok(()),
        other => other,
    }
}
