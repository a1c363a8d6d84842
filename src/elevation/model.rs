//! Bindings: one person's grant of one role on one incident, from request to revocation.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::incidents::IncidentId;
use crate::store::{Store, SHARDS};

/// A binding's id: 16 lowercase base-32 characters, the first naming the incident's shard in
/// hex, so that the binding is found from its id alone and lives in its incident's shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BindingId(String);

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a binding id is 16 lowercase letters and digits, as returned by POST /v1/elevations")]
pub struct InvalidBindingId;

impl BindingId {
    /// A fresh id in the shard of `incident`.
    pub fn new(incident: &IncidentId) -> Self {
        let shard = Store::shard_of(&incident.to_string());
        let mut id = format!("{shard:x}");
        while id.len() < 16 {
            id.push(char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]));
        }
        Self(id)
    }

    pub fn shard(&self) -> u16 {
        // Validated at construction: the first character is a hex digit below SHARDS.
        u16::from_str_radix(&self.0[..1], 16).unwrap_or(0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BindingId {
    type Err = InvalidBindingId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shard_ok = s
            .get(..1)
            .and_then(|c| u16::from_str_radix(c, 16).ok())
            .is_some_and(|n| n < SHARDS);
        let body_ok = s.len() == 16
            && s.bytes()
                .all(|b| ALPHABET.contains(&b) || b.is_ascii_digit());
        if shard_ok && body_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidBindingId)
        }
    }
}

impl TryFrom<String> for BindingId {
    type Error = InvalidBindingId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BindingId> for String {
    fn from(id: BindingId) -> String {
        id.0
    }
}

impl fmt::Display for BindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a binding is in its life. CONTRACT.md fixes these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingStatus {
    PendingApproval,
    Granting,
    Active,
    Revoking,
    Revoked,
    Failed,
}

impl BindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BindingStatus::PendingApproval => "pending_approval",
            BindingStatus::Granting => "granting",
            BindingStatus::Active => "active",
            BindingStatus::Revoking => "revoking",
            BindingStatus::Revoked => "revoked",
            BindingStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::PendingApproval,
            Self::Granting,
            Self::Active,
            Self::Revoking,
            Self::Revoked,
            Self::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Still holds, or may still come to hold, access.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::PendingApproval | Self::Granting | Self::Active | Self::Revoking
        )
    }
}

/// Why a binding ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Expired,
    IncidentResolved,
    RevokedByHolder,
    RevokedByAdmin,
    ApprovalExpired,
    GrantFailed,
    /// The holder stopped being a responder (`[revocation] revoke_on_unassign`).
    Unassigned,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::IncidentResolved => "incident_resolved",
            EndReason::RevokedByHolder => "revoked_by_holder",
            EndReason::RevokedByAdmin => "revoked_by_admin",
            EndReason::ApprovalExpired => "approval_expired",
            EndReason::GrantFailed => "grant_failed",
            EndReason::Unassigned => "unassigned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Expired,
            Self::IncidentResolved,
            Self::RevokedByHolder,
            Self::RevokedByAdmin,
            Self::ApprovalExpired,
            Self::GrantFailed,
            Self::Unassigned,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One binding. Stored as JSON; `status` and `end_reason` are also kept as separate hash fields
/// that scripts may change (the incident's resolve does), and those fields win when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub id: BindingId,
    pub incident: IncidentId,
    pub role: String,
    /// The requester's email.
    pub subject: String,
    pub principal_arn: String,
    pub status: BindingStatus,
    pub reason: String,
    pub duration_seconds: u64,
    pub approval: Approval,
    pub requested_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Until when a pending request may be approved.
    pub approval_deadline: Option<DateTime<Utc>>,
    pub role_name: String,
    pub role_arn: Option<String>,
    pub granted_at: Option<DateTime<Utc>>,
    /// Set when the grant starts (at request for `auto`, at approval for `peer`).
    pub expires_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub ended_by: Option<String>,
    /// Revocation attempts made and the last error, for operators.
    #[serde(default)]
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// A role's approval tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Granted at once when policy allows.
    Auto,
    /// Another responder of the same incident must approve.
    Peer,
}
