//! Bindings: one person's grant of one role on one incident, from request to revocation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keyspace::IncidentId;

pub use crate::keyspace::{BindingId, InvalidBindingId};

/// `start + duration`: an expiry or a deadline, saturating rather than overflowing.
pub fn after(start: DateTime<Utc>, duration: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Where a binding is in its life. The HTTP API's contract fixes these names; which status
/// follows which is [`super::lifecycle`]'s.
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
    pub const ALL: [BindingStatus; 6] = [
        Self::PendingApproval,
        Self::Granting,
        Self::Active,
        Self::Revoking,
        Self::Revoked,
        Self::Failed,
    ];

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
        Self::ALL.into_iter().find(|st| st.as_str() == s)
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
    pub const ALL: [EndReason; 7] = [
        Self::Expired,
        Self::IncidentResolved,
        Self::RevokedByHolder,
        Self::RevokedByAdmin,
        Self::ApprovalExpired,
        Self::GrantFailed,
        Self::Unassigned,
    ];

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
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One binding. Stored as JSON; `status` and `end_reason` are also kept as separate hash fields
/// that scripts may change (the incident's resolve does), and those fields win when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub id: BindingId,
    pub incident: IncidentId,
    pub role: String,
    /// The account the role is granted in, by its catalogue name. Bindings made before there
    /// were accounts read as `default`: the service's own account.
    #[serde(default = "crate::keyspace::own_account")]
    pub account: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_end_reasons_keep_their_wire_names_and_read_back() {
        // The API, the stored hash fields and the scripts all use these names.
        let statuses: Vec<&str> = BindingStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            statuses,
            [
                "pending_approval",
                "granting",
                "active",
                "revoking",
                "revoked",
                "failed"
            ]
        );
        for s in BindingStatus::ALL {
            assert_eq!(BindingStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let reasons: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "expired",
                "incident_resolved",
                "revoked_by_holder",
                "revoked_by_admin",
                "approval_expired",
                "grant_failed",
                "unassigned"
            ]
        );
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(BindingStatus::parse("Active"), None);
        assert_eq!(EndReason::parse(""), None);
    }

    #[test]
    fn live_means_holding_or_about_to_hold_or_on_the_way_out() {
        let live: Vec<BindingStatus> = BindingStatus::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        use BindingStatus::*;
        assert_eq!(live, [PendingApproval, Granting, Active, Revoking]);
    }

    #[test]
    fn after_saturates_instead_of_overflowing() {
        let start = DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(1);
        assert_eq!(
            after(start, std::time::Duration::from_secs(3600)),
            DateTime::<Utc>::MAX_UTC
        );
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            after(t0, std::time::Duration::from_secs(90)),
            t0 + chrono::Duration::seconds(90)
        );
    }
}
