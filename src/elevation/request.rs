//! `POST /v1/elevations`: gather the decision's inputs, decide, record the binding atomically
//! with the check that its incident is open and unchanged, and start the grant.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::events::{Denied, Requested as RequestedEvent};
use super::policy::{self, Decision, Denial, Inputs, Request};
use super::service::{Elevation, ElevationError, ElevationRequest, Requested, GRANT_DEADLINE};
use crate::audit::{Event, Origin};
use crate::auth::Principal;
use crate::bindings::store::CreateOutcome;
use crate::bindings::{lifecycle, Approval, Binding, BindingId, BindingStatus, MAX_ATTEMPTS};
use crate::grants;
use crate::incidents::{IncidentId, InvalidIncidentId};
use crate::store::StoreError;

/// A requested duration as the audit trail keeps it: a short string or a number, nothing else
/// (the request body is the caller's; the trail must not carry whatever they put there).
fn bounded(duration: &serde_json::Value) -> serde_json::Value {
    match duration {
        serde_json::Value::String(s) => s.chars().take(64).collect::<String>().into(),
        serde_json::Value::Number(_) => duration.clone(),
        _ => serde_json::Value::Null,
    }
}

/// What policy decided for a request, as of `now`.
struct Decided {
    needs_approval: bool,
    duration: Duration,
    /// For a grant at once; a peer role's expiry starts at approval.
    expires_at: Option<chrono::DateTime<Utc>>,
    now: chrono::DateTime<Utc>,
}

impl Elevation {
    /// `POST /v1/elevations`.
    pub async fn request(
        self: &Arc<Self>,
        caller: &Principal,
        req: &ElevationRequest,
    ) -> Result<Requested, ElevationError> {
        let incident_id: IncidentId = req
            .incident
            .parse()
            .map_err(|e: InvalidIncidentId| Denial::InvalidRequest(e.to_string()))?;
        let result = self.request_on(caller, req, &incident_id).await;
        if let Err(e) = &result {
            if let Some(rule) = e.denial_rule() {
                // The refusal is evidence too; if it cannot be recorded the caller hears of
                // the outage rather than a decision that left no trace.
                let denied = Denied {
                    role: req.role.chars().take(128).collect(),
                    rule: rule.to_owned(),
                    message: e.to_string(),
                    duration: bounded(&req.duration),
                    reason: req
                        .reason
                        .as_deref()
                        .map(|r| r.chars().take(1024).collect()),
                    account: req.account.as_deref().map(|a| a.chars().take(64).collect()),
                };
                let origin = Origin::person(&caller.subject);
                let event = Event::new(&origin, &incident_id, None, &denied);
                self.audit.append(&[event]).await?;
            }
        }
        result
    }

    async fn request_on(
        self: &Arc<Self>,
        caller: &Principal,
        req: &ElevationRequest,
        incident_id: &IncidentId,
    ) -> Result<Requested, ElevationError> {
        let role = self.roles.get(&req.role).ok_or_else(|| {
            let mut names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
            names.sort_unstable();
            ElevationError::RoleNotFound(req.role.chars().take(64).collect(), names.join(", "))
        })?;
        let account = policy::account(role, req.account.as_deref(), self.accounts.own())?;
        let origin = Origin::person(&caller.subject);
        for _ in 0..MAX_ATTEMPTS {
            // A retried request returns the binding it made, whatever the rules say now.
            if let Some(existing) = self
                .bindings
                .held(incident_id, role.name(), &account, &caller.subject)
                .await?
            {
                return Ok(Requested::Existing(existing.binding));
            }
            let (incident, version) = self.incidents.get_versioned(incident_id).await?;
            let incident =
                incident.ok_or_else(|| ElevationError::IncidentNotFound(incident_id.clone()))?;
            let held = self.bindings.live_count(&caller.subject).await?;
            let now = Utc::now();
            let decision = policy::decide(&Inputs {
                incident: &incident,
                requester: &caller.subject,
                role,
                request: Request {
                    duration: &req.duration,
                    reason: req.reason.as_deref(),
                },
                held,
                max_held: self.max_held,
                now,
            });
            let (needs_approval, duration, expires_at) = match decision {
                Decision::Deny(denial) => return Err(denial.into()),
                Decision::Grant {
                    duration,
                    expires_at,
                } => (false, duration, Some(expires_at)),
                Decision::NeedsApproval { duration } => (true, duration, None),
            };
            let decided = Decided {
                needs_approval,
                duration,
                expires_at,
                now,
            };
            let reason = req.reason.as_deref().unwrap_or_default();
            let binding = self.new_binding(caller, incident_id, role, &account, reason, decided)?;
            let due = binding
                .approval_deadline
                .unwrap_or_else(|| policy::expires(now, GRANT_DEADLINE));
            let requested = RequestedEvent {
                binding: binding.id.clone(),
                subject: binding.subject.clone(),
                role: binding.role.clone(),
                account: binding.account.clone(),
                principal_arn: binding.principal_arn.clone(),
                approval: binding.approval,
                duration_seconds: binding.duration_seconds,
                reason: binding.reason.clone(),
                decision: if needs_approval {
                    "pending_approval"
                } else {
                    "grant"
                }
                .into(),
            };
            let event = Event::new(&origin, incident_id, Some(&binding.id), &requested);
            match self
                .bindings
                .create(&binding, version, due, &[event], now)
                .await?
            {
                CreateOutcome::Created if binding.status == BindingStatus::PendingApproval => {
                    return Ok(Requested::New {
                        binding,
                        iam: Duration::ZERO,
                    });
                }
                CreateOutcome::Created => {
                    let (binding, iam) = self
                        .grant_detached(binding.id.clone(), origin.clone())
                        .await?;
                    return Ok(Requested::New { binding, iam });
                }
                CreateOutcome::Exists(id) => {
                    return Ok(Requested::Existing(self.current(&id).await?.binding));
                }
                CreateOutcome::IncidentNotFound => {
                    return Err(ElevationError::IncidentNotFound(incident_id.clone()))
                }
                CreateOutcome::IncidentNotOpen => return Err(Denial::IncidentNotOpen.into()),
                CreateOutcome::Conflict => continue,
            }
        }
        Err(StoreError::Contended(incident_id.to_string()).into())
    }

    /// The record of a request policy allowed: granting at once, or pending approval.
    fn new_binding(
        &self,
        caller: &Principal,
        incident: &IncidentId,
        role: &policy::Role,
        account: &str,
        reason: &str,
        decided: Decided,
    ) -> Result<Binding, ElevationError> {
        let now = decided.now;
        let person = self.directory.person(&caller.subject);
        let Some(principal_arn) = person.and_then(|p| p.aws_principal.clone()) else {
            return Err(ElevationError::Forbidden(
                "no AWS principal is configured for you; ask the platform team to set aws_principal in [[responders]]".into(),
            ));
        };
        let id = BindingId::new(incident);
        Ok(Binding {
            role_name: grants::policy::role_name(id.as_str()),
            id,
            incident: incident.clone(),
            role: role.name().to_owned(),
            account: account.to_owned(),
            subject: person
                .map(|p| p.email.clone())
                .unwrap_or_else(|| caller.subject.clone()),
            principal_arn,
            status: lifecycle::initial(decided.needs_approval),
            reason: reason.trim().to_owned(),
            duration_seconds: decided.duration.as_secs(),
            approval: role.approval,
            requested_at: now,
            approved_by: None,
            approved_at: None,
            approval_deadline: (role.approval == Approval::Peer)
                .then(|| policy::expires(now, self.pending_ttl)),
            role_arn: None,
            granted_at: None,
            expires_at: decided.expires_at,
            ended_at: None,
            end_reason: None,
            ended_by: None,
            attempts: 0,
            last_error: None,
        })
    }
}
