//! The audit events a binding's life writes, in the same atomic step as the change they record;
//! the review reads them back through these same types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{BindingId, BindingStatus, EndReason};
use crate::audit::Payload;

/// What every change of a binding records: which binding, from which status to which, and why.
/// The incident's resolve (`apply.lua`) writes the first four fields only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub binding: BindingId,
    pub from: BindingStatus,
    pub status: BindingStatus,
    #[serde(default)]
    pub reason: Option<EndReason>,
    /// Who ended it, for a revoke by its holder or an admin.
    #[serde(default)]
    pub by: Option<String>,
    /// Revocation attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last IAM error, if any.
    #[serde(default)]
    pub error: Option<String>,
}

/// `binding.granted`: IAM made the role and the binding is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Granted {
    pub binding: BindingId,
    pub from: BindingStatus,
    pub status: BindingStatus,
    pub role_name: String,
    pub role_arn: String,
    /// The role's policy template as configured (the review shows what was granted).
    pub policy: String,
    pub managed_policies: Vec<String>,
    pub permissions_boundary: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Time spent in IAM.
    pub iam_ms: u64,
}

impl Payload for Granted {
    const KIND: &'static str = "binding.granted";
}

/// `binding.grant_failed`: IAM could not make the role; the grant rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantFailed {
    #[serde(flatten)]
    pub change: Change,
}

impl Payload for GrantFailed {
    const KIND: &'static str = "binding.grant_failed";
}

/// `binding.revoking`: access must end; the revocation steps start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoking {
    #[serde(flatten)]
    pub change: Change,
}

impl Payload for Revoking {
    const KIND: &'static str = "binding.revoking";
}

/// `binding.revoked`: the role is gone, with what each IAM step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    #[serde(flatten)]
    pub change: Change,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<crate::grants::Revoked>,
}

impl Payload for Revoked {
    const KIND: &'static str = "binding.revoked";
}

/// `binding.revoke_failed`: a revocation step failed; it is tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeFailed {
    #[serde(flatten)]
    pub change: Change,
    /// When the next attempt comes, for the worker's retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
}

impl Payload for RevokeFailed {
    const KIND: &'static str = "binding.revoke_failed";
}

/// `binding.approval_expired`: nobody approved the request before its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalExpired {
    #[serde(flatten)]
    pub change: Change,
}

impl Payload for ApprovalExpired {
    const KIND: &'static str = "binding.approval_expired";
}
