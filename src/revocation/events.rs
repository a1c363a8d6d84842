//! The audit events the reconciler writes; the review reads them back through these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::Payload;
use crate::bindings::{BindingId, BindingStatus};

/// `reconciler.role_removed`: a role under the path had no live binding (or had passed its
/// expiry) and was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRemoved {
    pub role_name: String,
    /// The account the role was in (trails from before accounts read as `default`).
    #[serde(default = "crate::keyspace::own_account")]
    pub account: String,
    /// Why (see [`super::RemoveReason`]).
    pub reason: String,
    /// The role's tags as IAM had them.
    pub tags: BTreeMap<String, String>,
    /// The binding's status in Redis, if it had one.
    pub binding_status: Option<BindingStatus>,
    /// What each IAM step did.
    pub iam: crate::grants::Revoked,
}

impl Payload for RoleRemoved {
    const KIND: &'static str = "reconciler.role_removed";
}

/// `reconciler.requeued`: a binding left `revoking` with no schedule entry went back in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requeued {
    pub binding: BindingId,
    pub why: String,
}

impl Payload for Requeued {
    const KIND: &'static str = "reconciler.requeued";
}
