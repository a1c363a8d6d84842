//! Grants on AWS IAM: the adapter that turns an approved binding into a real, ephemeral IAM role,
//! and removes it again.
//!
//! One role per binding, under the configured path (`/breakglass/`), trusted only by the
//! responder's principal, carrying the role template's policy, optional managed policies and
//! permissions boundary, and tags naming incident, responder, binding and expiry (the book's
//! docs/configuration/roles.md, "What breakglass adds to every grant"). Two properties matter
//! more than the rest:
//!
//! - Every Allow statement, and the trust policy, carries `DateLessThan aws:CurrentTime` at the
//!   binding's expiry ([`policy`]). Access lapses on its own even if breakglass and Redis are
//!   both lost; revocation only makes it end sooner.
//! - The role name is derived from the binding id, so a retried grant lands on the same role:
//!   `EntityAlreadyExists` with our own `breakglass:binding` tag means the earlier attempt got
//!   there, and the grant carries on instead of making a second role.
//!
//! A grant that fails part-way is rolled back before the error is returned, so a failed grant
//! leaves no IAM debris. Revocation first puts an inline `breakglass-revoked` policy denying
//! everything to sessions issued before now (`aws:TokenIssueTime`): IAM applies policy changes
//! to live sessions, so this ends credentials already handed out, not just future ones. Then it
//! deletes the other inline policies, detaches managed ones, deletes the deny and the role. It
//! treats `NoSuchEntity` as done and can be repeated freely. Errors say whether retrying may
//! help (throttling, 5xx, timeouts, network) for the revocation engine's backoff.

mod accounts;
mod error;
mod iam;
pub mod policy;

use chrono::{DateTime, Utc};

use crate::config::{ConfigError, RoleEntry};

pub use error::GrantError;

/// What a revocation did in IAM, step by step: the evidence in `binding.revoked`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Revoked {
    /// When the inline deny of sessions issued before that instant was put on the role: every
    /// session already handed out stopped working then.
    pub sessions_denied_before: Option<DateTime<Utc>>,
    pub inline_policies_deleted: Vec<String>,
    pub managed_policies_detached: Vec<String>,
    /// When IAM confirmed the role deleted.
    pub role_deleted_at: Option<DateTime<Utc>>,
    /// The role was already gone when the revocation started.
    pub already_gone: bool,
}
pub use accounts::{Account, Accounts};
pub use iam::Grants;
pub use policy::PolicyError;

/// Tag keys on every grant's role. `breakglass:binding` is how a role is matched to its binding.
pub const TAG_INCIDENT: &str = "breakglass:incident";
pub const TAG_SUBJECT: &str = "breakglass:subject";
pub const TAG_BINDING: &str = "breakglass:binding";
pub const TAG_EXPIRES_AT: &str = "breakglass:expires-at";
pub const TAG_ACCOUNT: &str = "breakglass:account";

/// The inline policy holding the role template's (expiry-bounded) policy.
pub const INLINE_POLICY_NAME: &str = "breakglass";

/// The inline policy a revocation puts on first: deny all to sessions issued before it.
pub const REVOKED_POLICY_NAME: &str = "breakglass-revoked";

/// The role's `MaxSessionDuration`: one hour, the least IAM accepts. A shorter binding still ends
/// on time: IAM evaluates the expiry condition on every request, also within a live session.
pub const MAX_SESSION_SECS: i32 = 3600;

/// Everything IAM needs to create one binding's role.
#[derive(Debug, Clone, Copy)]
pub struct GrantSpec<'a> {
    pub binding_id: &'a str,
    /// The incident id, `<source>:<native id>`.
    pub incident: &'a str,
    /// The account the role is made in, by its catalogue name.
    pub account: &'a str,
    /// The responder, by email.
    pub subject: &'a str,
    /// The responder's AWS principal: the only one the role trusts.
    pub principal_arn: &'a str,
    /// The role template's policy document, before the expiry is added.
    pub policy: &'a str,
    pub managed_policies: &'a [String],
    pub permissions_boundary: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

/// A role that exists in IAM for a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub role_arn: String,
    pub role_name: String,
}

/// Every role's policy, checked at load: it must be one a grant can bound in time, so a bad
/// template fails start-up instead of every grant of that role (a 502 in an outage). The same
/// check the grant runs ([`policy::with_expiry`]).
pub fn check_config(roles: &[RoleEntry]) -> Result<(), ConfigError> {
    const FIX: &str = r#"write it like {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:Describe*"],"Resource":"*"}]}"#;
    for (i, role) in roles.iter().enumerate() {
        policy::with_expiry(&role.policy, Utc::now())
            .map_err(|e| ConfigError::new(format!("roles[{i}].policy"), format!("{e}; {FIX}")))?;
    }
    Ok(())
}
