//! The elevation service: its state, its errors, and the answers its endpoints give. The work
//! is in the files beside this one: [`super::request`] (request and decision),
//! [`super::grant`] (the IAM grant and the grant/resolve race), [`super::approve`] (peer
//! approval) and [`super::access`] (read and revoke).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::policy::{Denial, Role};
use crate::audit::AuditLog;
use crate::bindings::store::Versioned;
use crate::bindings::{Binding, BindingError, BindingId, BindingStore};
use crate::directory::ResponderDirectory;
use crate::grants::Accounts;
use crate::incidents::{IncidentId, IncidentStore};
use crate::revocation::Revoker;
use crate::store::StoreError;

/// How long a grant may take before the worker treats its granter as dead and cleans up.
pub const GRANT_DEADLINE: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ElevationError {
    #[error(
        "no incident `{0}`; check the id (breakglass only knows incidents its webhooks reported)"
    )]
    IncidentNotFound(IncidentId),
    #[error("no role `{0}` in the catalogue; ask for one of: {1}")]
    RoleNotFound(String, String),
    #[error(transparent)]
    Denied(#[from] Denial),
    #[error("no binding `{0}`")]
    NotFound(BindingId),
    #[error("{0}")]
    Forbidden(String),
    /// In `account` when it is known (the API names it; the message stays in the log).
    #[error("the AWS grant failed and was rolled back: {message}")]
    GrantFailed {
        account: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BindingError> for ElevationError {
    fn from(e: BindingError) -> Self {
        match e {
            BindingError::NotFound(id) => ElevationError::NotFound(id),
            BindingError::Store(e) => ElevationError::Store(e),
        }
    }
}

impl ElevationError {
    /// The rule a refused request broke, for the audit trail; `None` for what is not a refusal.
    pub fn denial_rule(&self) -> Option<&'static str> {
        match self {
            ElevationError::IncidentNotFound(_) => Some("incident_not_found"),
            ElevationError::RoleNotFound(..) => Some("role_not_found"),
            ElevationError::Denied(d) => Some(d.rule()),
            ElevationError::Forbidden(_) => Some("forbidden"),
            ElevationError::NotFound(_)
            | ElevationError::GrantFailed { .. }
            | ElevationError::Store(_) => None,
        }
    }
}

/// What a request produced.
#[derive(Debug)]
pub enum Requested {
    /// A new binding: active (auto) or pending approval (peer), and the time spent in IAM.
    New { binding: Binding, iam: Duration },
    /// The person already held a live binding of this role on this incident: that one.
    Existing(Binding),
}

/// The body of `POST /v1/elevations`.
#[derive(Debug, serde::Deserialize)]
pub struct ElevationRequest {
    pub incident: String,
    pub role: String,
    #[serde(default)]
    pub duration: serde_json::Value,
    pub reason: Option<String>,
    /// The account to be granted in; may be left out when the role allows only one.
    pub account: Option<String>,
}

pub struct Elevation {
    pub(super) bindings: BindingStore,
    pub(super) audit: AuditLog,
    pub(super) incidents: IncidentStore,
    pub(super) accounts: Accounts,
    pub(super) roles: HashMap<String, Role>,
    pub(super) directory: Arc<ResponderDirectory>,
    pub(super) max_held: usize,
    pub(super) pending_ttl: Duration,
    /// Ends bindings: elevation asks, revocation does.
    pub(super) revoker: Arc<Revoker>,
}

impl Elevation {
    pub fn new(
        bindings: BindingStore,
        incidents: IncidentStore,
        accounts: Accounts,
        roles: Vec<Role>,
        directory: Arc<ResponderDirectory>,
        config: &crate::config::Elevation,
        revoker: Arc<Revoker>,
    ) -> Self {
        Self {
            audit: AuditLog::new(bindings.store().clone()),
            bindings,
            incidents,
            accounts,
            roles: roles
                .into_iter()
                .map(|r| (r.name().to_owned(), r))
                .collect(),
            directory,
            max_held: config.max_active_per_subject as usize,
            pending_ttl: config.pending_ttl.into(),
            revoker,
        }
    }

    /// A binding as stored, or `NotFound`.
    pub(super) async fn current(&self, id: &BindingId) -> Result<Versioned, ElevationError> {
        self.bindings
            .get(id)
            .await?
            .ok_or_else(|| ElevationError::NotFound(id.clone()))
    }

    /// A role of the catalogue, for a binding already made of it.
    pub(super) fn role(&self, name: &str) -> Result<&Role, ElevationError> {
        self.roles
            .get(name)
            .ok_or_else(|| ElevationError::RoleNotFound(name.to_owned(), String::new()))
    }

    /// Every binding of an incident (for the incident view).
    pub async fn for_incident(&self, incident: &IncidentId) -> Result<Vec<Binding>, StoreError> {
        self.bindings.for_incident(incident).await
    }

    /// Wake the revocation worker (after a resolve queued revocations).
    pub fn kick(&self) {
        self.revoker.kick();
    }
}
