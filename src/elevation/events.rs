//! The audit events elevation writes: requests, refusals and approvals. The review reads them
//! back through these same types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Payload;
use crate::bindings::{Approval, BindingId, BindingStatus};

/// `elevation.requested`: a binding was recorded, granting at once or pending approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    pub binding: BindingId,
    pub subject: String,
    pub role: String,
    /// The account granted in (trails from before accounts read as `default`).
    #[serde(default = "crate::keyspace::own_account")]
    pub account: String,
    pub principal_arn: String,
    pub approval: Approval,
    pub duration_seconds: u64,
    pub reason: String,
    /// `grant` or `pending_approval`.
    pub decision: String,
}

impl Payload for Requested {
    const KIND: &'static str = "elevation.requested";
}

/// `elevation.denied`: a request was refused, and by which rule. Every field is bounded: the
/// request body is the caller's, and the trail must not carry whatever they put there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denied {
    pub role: String,
    /// The denial code (`not_on_call`, `incident_not_open`, ...).
    pub rule: String,
    pub message: String,
    /// The duration as asked: a short string, a number, or null.
    pub duration: serde_json::Value,
    pub reason: Option<String>,
    /// The account as asked, if any (bounded like the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl Payload for Denied {
    const KIND: &'static str = "elevation.denied";
}

/// `elevation.approved`: another responder approved; the grant starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    pub binding: BindingId,
    pub from: BindingStatus,
    pub status: BindingStatus,
    pub approved_by: String,
    pub subject: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Payload for Approved {
    const KIND: &'static str = "elevation.approved";
}

/// `elevation.approval_refused`: an approval was refused, and by which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRefused {
    pub binding: BindingId,
    pub rule: String,
    pub message: String,
}

impl Payload for ApprovalRefused {
    const KIND: &'static str = "elevation.approval_refused";
}
