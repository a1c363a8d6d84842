//! The elevation service: gathers the decision's inputs, records the binding, drives IAM, and
//! settles the grant/resolve race.
//!
//! The race: a binding is recorded as `granting` atomically with the check that its incident is
//! open (and unchanged since the decision). It becomes `active` only through a compare-and-set
//! that again requires the incident open. If the incident resolved meanwhile, the resolve script
//! has already moved the binding to `revoking`, or the final write refuses; either way the role
//! just created is deleted at once. No interleaving leaves a role behind a resolved incident.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::sync::Notify;

use super::model::{Approval, Binding, BindingId, BindingStatus, EndReason};
use super::policy::{self, Decision, Denial, Inputs, Request, Role};
use super::store::{BindingStore, CreateOutcome, Schedule, UpdateOutcome};
use crate::audit::{AuditLog, Event, Origin};
use crate::auth::Principal;
use crate::directory::ResponderDirectory;
use crate::grants::{self, GrantSpec, Grants};
use crate::incidents::{IncidentId, IncidentStore};
use crate::store::StoreError;

/// How long a grant may take before the scheduler treats its granter as dead and cleans up.
pub const GRANT_DEADLINE: Duration = Duration::from_secs(120);

/// Attempts at a compare-and-set before giving up with 503.
const MAX_ATTEMPTS: usize = 16;

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
    #[error("the AWS grant failed and was rolled back: {0}")]
    GrantFailed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A requested duration as the audit trail keeps it: a short string or a number, nothing else
/// (the request body is the caller's; the trail must not carry whatever they put there).
fn bounded(duration: &serde_json::Value) -> serde_json::Value {
    match duration {
        serde_json::Value::String(s) => s.chars().take(64).collect::<String>().into(),
        serde_json::Value::Number(_) => duration.clone(),
        _ => serde_json::Value::Null,
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
            | ElevationError::GrantFailed(_)
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
}

pub struct Elevation {
    pub(super) bindings: BindingStore,
    pub(super) audit: AuditLog,
    incidents: IncidentStore,
    pub(super) grants: Grants,
    roles: HashMap<String, Role>,
    directory: Arc<ResponderDirectory>,
    max_held: usize,
    pending_ttl: Duration,
    /// Wakes the scheduler when work is due now.
    pub(super) kick: Arc<Notify>,
}

impl Elevation {
    pub fn new(
        bindings: BindingStore,
        incidents: IncidentStore,
        grants: Grants,
        roles: Vec<Role>,
        directory: Arc<ResponderDirectory>,
        config: &crate::config::Elevation,
        kick: Arc<Notify>,
    ) -> Self {
        Self {
            audit: AuditLog::new(bindings.store().clone()),
            bindings,
            incidents,
            grants,
            roles: roles
                .into_iter()
                .map(|r| (r.name().to_owned(), r))
                .collect(),
            directory,
            max_held: config.max_active_per_subject as usize,
            pending_ttl: config.pending_ttl.into(),
            kick,
        }
    }

    /// `POST /v1/elevations`.
    pub async fn request(
        self: &Arc<Self>,
        caller: &Principal,
        req: &ElevationRequest,
    ) -> Result<Requested, ElevationError> {
        let incident_id: IncidentId =
            req.incident
                .parse()
                .map_err(|e: crate::incidents::InvalidIncidentId| {
                    Denial::InvalidRequest(e.to_string())
                })?;
        let result = self.request_on(caller, req, &incident_id).await;
        if let Err(e) = &result {
            if let Some(rule) = e.denial_rule() {
                // The refusal is evidence too; if it cannot be recorded the caller hears of
                // the outage rather than a decision that left no trace.
                let denied = Event::new(
                    "elevation.denied",
                    &Origin::person(&caller.subject),
                    &incident_id,
                    None,
                    json!({"role": req.role.chars().take(128).collect::<String>(), "rule": rule,
                        "message": e.to_string(), "duration": bounded(&req.duration),
                        "reason": req.reason.as_deref().map(|r| r.chars().take(1024).collect::<String>())}),
                );
                self.audit.append(&[denied]).await?;
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
        let incident_id = incident_id.clone();
        let role = self.roles.get(&req.role).ok_or_else(|| {
            let mut names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
            names.sort_unstable();
            ElevationError::RoleNotFound(req.role.chars().take(64).collect(), names.join(", "))
        })?;
        let origin = Origin::person(&caller.subject);
        for _ in 0..MAX_ATTEMPTS {
            // A retried request returns the binding it made, whatever the rules say now.
            if let Some(existing) = self
                .bindings
                .held(&incident_id, role.name(), &caller.subject)
                .await?
            {
                return Ok(Requested::Existing(existing.binding));
            }
            let (incident, version) = self.incidents.get_versioned(&incident_id).await?;
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
            let (status, duration, expires_at) = match decision {
                Decision::Deny(denial) => return Err(denial.into()),
                Decision::Grant {
                    duration,
                    expires_at,
                } => (BindingStatus::Granting, duration, Some(expires_at)),
                Decision::NeedsApproval { duration } => {
                    (BindingStatus::PendingApproval, duration, None)
                }
            };
            let person = self.directory.person(&caller.subject);
            let Some(principal_arn) = person.and_then(|p| p.aws_principal.clone()) else {
                return Err(ElevationError::Forbidden(
                    "no AWS principal is configured for you; ask the platform team to set aws_principal in [[responders]]".into(),
                ));
            };
            let id = BindingId::new(&incident_id);
            let binding = Binding {
                role_name: grants::policy::role_name(id.as_str()),
                id,
                incident: incident_id.clone(),
                role: role.name().to_owned(),
                subject: person
                    .map(|p| p.email.clone())
                    .unwrap_or_else(|| caller.subject.clone()),
                principal_arn,
                status,
                reason: req.reason.as_deref().unwrap_or_default().trim().to_owned(),
                duration_seconds: duration.as_secs(),
                approval: role.approval,
                requested_at: now,
                approved_by: None,
                approved_at: None,
                approval_deadline: (role.approval == Approval::Peer)
                    .then(|| policy::expires(now, self.pending_ttl)),
                role_arn: None,
                granted_at: None,
                expires_at,
                ended_at: None,
                end_reason: None,
                ended_by: None,
                attempts: 0,
                last_error: None,
            };
            let due = binding
                .approval_deadline
                .unwrap_or_else(|| policy::expires(now, GRANT_DEADLINE));
            let requested = Event::new(
                "elevation.requested",
                &origin,
                &incident_id,
                Some(binding.id.as_str()),
                json!({"binding": binding.id, "subject": binding.subject, "role": binding.role,
                    "principal_arn": binding.principal_arn, "approval": binding.approval,
                    "duration_seconds": binding.duration_seconds, "reason": binding.reason,
                    "decision": if status == BindingStatus::Granting { "grant" } else { "pending_approval" }}),
            );
            match self
                .bindings
                .create(&binding, version, due, &[requested], now)
                .await?
            {
                CreateOutcome::Created if status == BindingStatus::PendingApproval => {
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
                    let existing = self
                        .bindings
                        .get(&id)
                        .await?
                        .ok_or(ElevationError::NotFound(id))?;
                    return Ok(Requested::Existing(existing.binding));
                }
                CreateOutcome::IncidentNotFound => {
                    return Err(ElevationError::IncidentNotFound(incident_id))
                }
                CreateOutcome::IncidentNotOpen => return Err(Denial::IncidentNotOpen.into()),
                CreateOutcome::Conflict => continue,
            }
        }
        Err(StoreError::Contended(incident_id.to_string()).into())
    }

    /// Run [`Self::grant`] in a task of its own, so that a caller who hangs up mid-grant cannot
    /// cancel it between creating the role and recording (or rolling back) the outcome.
    async fn grant_detached(
        self: &Arc<Self>,
        id: BindingId,
        origin: Origin,
    ) -> Result<(Binding, Duration), ElevationError> {
        let this = self.clone();
        tokio::spawn(async move { this.grant(id, &origin).await })
            .await
            .map_err(|e| ElevationError::GrantFailed(format!("the grant task failed: {e}")))?
    }

    /// Create the role for a `granting` binding, then make it active if its incident is still
    /// open, or delete the role at once if not.
    async fn grant(
        &self,
        id: BindingId,
        origin: &Origin,
    ) -> Result<(Binding, Duration), ElevationError> {
        let current = self
            .bindings
            .get(&id)
            .await?
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
        let b = &current.binding;
        let role = self
            .roles
            .get(&b.role)
            .ok_or_else(|| ElevationError::RoleNotFound(b.role.clone(), String::new()))?;
        let expires_at = b.expires_at.unwrap_or_else(Utc::now);
        let incident = b.incident.to_string();
        let spec = GrantSpec {
            binding_id: b.id.as_str(),
            incident: &incident,
            subject: &b.subject,
            principal_arn: &b.principal_arn,
            policy: &role.entry.policy,
            managed_policies: &role.entry.managed_policies,
            permissions_boundary: role.entry.permissions_boundary.as_deref(),
            expires_at,
        };
        let started = std::time::Instant::now();
        let result = self.grants.grant(&spec).await;
        let iam = started.elapsed();
        let granted = match result {
            Ok(granted) => granted,
            Err(e) => {
                let now_status = self.bindings.get(&id).await?.map(|v| v.binding.status);
                if now_status != Some(BindingStatus::Granting) {
                    // Resolved or revoked while IAM worked (and maybe removed the half-made
                    // role under the grant): that, not IAM, is the outcome.
                    return Ok((self.undo_grant(&id, origin).await?, iam));
                }
                tracing::error!(binding = %id, error = %e, "grant failed; rolled back");
                let message = e.to_string();
                self.settle(&id, origin, json!({}), |b| {
                    if b.status == BindingStatus::Granting {
                        b.status = BindingStatus::Failed;
                        b.end_reason = Some(EndReason::GrantFailed);
                        b.last_error = Some(message.clone());
                    }
                    (Schedule::Remove, "binding.grant_failed")
                })
                .await?;
                return Err(ElevationError::GrantFailed(message));
            }
        };
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .bindings
                .get(&id)
                .await?
                .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
            if current.binding.status != BindingStatus::Granting {
                // Resolved or revoked while IAM worked: the role must not survive.
                return Ok((self.undo_grant(&id, origin).await?, iam));
            }
            let now = Utc::now();
            let mut next = current.binding.clone();
            next.status = BindingStatus::Active;
            next.role_arn = Some(granted.role_arn.clone());
            next.granted_at = Some(now);
            let audit = Event::new(
                "binding.granted",
                origin,
                &next.incident,
                Some(id.as_str()),
                json!({"binding": id, "from": current.binding.status, "status": next.status,
                    "role_name": next.role_name, "role_arn": granted.role_arn,
                    "policy": role.entry.policy, "managed_policies": role.entry.managed_policies,
                    "permissions_boundary": role.entry.permissions_boundary,
                    "expires_at": next.expires_at, "iam_ms": iam.as_millis() as u64}),
            );
            match self
                .bindings
                .update(
                    &current,
                    &next,
                    Schedule::At(expires_at),
                    &[audit],
                    true,
                    now,
                )
                .await?
            {
                UpdateOutcome::Ok => {
                    self.kick.notify_one();
                    return Ok((next, iam));
                }
                UpdateOutcome::Conflict => continue,
                UpdateOutcome::IncidentNotOpen => {
                    self.settle(&id, origin, json!({}), |b| {
                        b.status = BindingStatus::Revoking;
                        b.end_reason = Some(EndReason::IncidentResolved);
                        (Schedule::At(Utc::now()), "binding.revoking")
                    })
                    .await?;
                    return Ok((self.undo_grant(&id, origin).await?, iam));
                }
            }
        }
        Err(StoreError::Contended(id.to_string()).into())
    }

    /// Delete the role of a binding that stopped being `granting` while IAM worked, then settle
    /// it. The role is deleted whatever the binding says: the schedule worker may already have
    /// marked it revoked before the grant created the role.
    async fn undo_grant(&self, id: &BindingId, origin: &Origin) -> Result<Binding, ElevationError> {
        let current = self
            .bindings
            .get(id)
            .await?
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
        let ended = match self.grants.revoke(&current.binding.role_name).await {
            Ok(revoked) => {
                let steps = json!({ "iam": revoked });
                self.settle(id, origin, steps, |b| {
                    if b.status.is_live() {
                        b.status = BindingStatus::Revoked;
                        b.end_reason.get_or_insert(EndReason::IncidentResolved);
                    }
                    (Schedule::Remove, "binding.revoked")
                })
                .await?
            }
            Err(e) => {
                // The schedule worker retries until IAM lets the role go.
                let message = e.to_string();
                self.settle(id, origin, json!({}), |b| {
                    b.status = BindingStatus::Revoking;
                    b.end_reason.get_or_insert(EndReason::IncidentResolved);
                    b.last_error = Some(message.clone());
                    (Schedule::At(Utc::now()), "binding.revoke_failed")
                })
                .await?
            }
        };
        match ended.end_reason {
            Some(EndReason::IncidentResolved) => Err(Denial::IncidentNotOpen.into()),
            Some(EndReason::Unassigned) => Err(Denial::NotOnCall.into()),
            _ => Ok(ended),
        }
    }

    /// Read-modify-write a binding until the compare-and-set holds. `change` edits the binding
    /// and says where it goes in the schedule and what to audit.
    pub(super) async fn settle(
        &self,
        id: &BindingId,
        origin: &Origin,
        extra: serde_json::Value,
        change: impl Fn(&mut Binding) -> (Schedule, &'static str),
    ) -> Result<Binding, ElevationError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .bindings
                .get(id)
                .await?
                .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
            let mut next = current.binding.clone();
            let (schedule, kind) = change(&mut next);
            let now = Utc::now();
            if !next.status.is_live() && next.ended_at.is_none() {
                next.ended_at = Some(now);
            }
            let mut data = json!({"binding": id, "from": current.binding.status,
                "status": next.status, "reason": next.end_reason, "by": next.ended_by,
                "attempts": next.attempts, "error": next.last_error});
            if let (Some(data), serde_json::Value::Object(extra)) = (data.as_object_mut(), &extra) {
                data.extend(extra.clone());
            }
            let events = if kind.is_empty() {
                Vec::new()
            } else {
                vec![Event::new(
                    kind,
                    origin,
                    &next.incident,
                    Some(id.as_str()),
                    data,
                )]
            };
            match self
                .bindings
                .update(&current, &next, schedule, &events, false, now)
                .await?
            {
                UpdateOutcome::Ok => return Ok(next),
                UpdateOutcome::Conflict | UpdateOutcome::IncidentNotOpen => continue,
            }
        }
        Err(StoreError::Contended(id.to_string()).into())
    }

    /// `POST /v1/elevations/{id}/approve`: another current responder of the incident approves.
    /// Returns the now active binding and the time spent in IAM.
    pub async fn approve(
        self: &Arc<Self>,
        caller: &Principal,
        id: &BindingId,
    ) -> Result<(Binding, Duration), ElevationError> {
        let current = self
            .bindings
            .get(id)
            .await?
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
        let incident = current.binding.incident.clone();
        let result = self.approve_checked(caller, current).await;
        if let Err(e) = &result {
            if let Some(rule) = e.denial_rule() {
                let refused = Event::new(
                    "elevation.approval_refused",
                    &Origin::person(&caller.subject),
                    &incident,
                    Some(id.as_str()),
                    json!({"binding": id, "rule": rule, "message": e.to_string()}),
                );
                self.audit.append(&[refused]).await?;
            }
        }
        result
    }

    async fn approve_checked(
        self: &Arc<Self>,
        caller: &Principal,
        current: super::store::Versioned,
    ) -> Result<(Binding, Duration), ElevationError> {
        let b = &current.binding;
        let id = &b.id;
        if b.subject.eq_ignore_ascii_case(&caller.subject) {
            return Err(ElevationError::Forbidden(
                "you cannot approve your own request; ask another responder on the incident".into(),
            ));
        }
        let incident = self
            .incidents
            .get(&b.incident)
            .await?
            .ok_or_else(|| ElevationError::IncidentNotFound(b.incident.clone()))?;
        if !incident.is_responder(&caller.subject) {
            return Err(ElevationError::Forbidden(
                "only another current responder of this incident may approve".into(),
            ));
        }
        // The requester must still be allowed: removed from the incident, or the incident
        // changed so the role no longer fits, and the approval grants nothing.
        let role = self
            .roles
            .get(&b.role)
            .ok_or_else(|| ElevationError::RoleNotFound(b.role.clone(), String::new()))?;
        policy::still_allowed(&incident, &b.subject, role).map_err(|denial| match denial {
            Denial::NotOnCall => ElevationError::Forbidden(
                "the requester is no longer a responder on this incident; there is nothing to approve"
                    .into(),
            ),
            other => other.into(),
        })?;
        if b.status != BindingStatus::PendingApproval {
            return Err(ElevationError::Forbidden(format!(
                "this binding is {}, not pending approval",
                b.status.as_str()
            )));
        }
        let now = Utc::now();
        if b.approval_deadline.is_some_and(|d| d <= now) {
            return Err(ElevationError::Forbidden(
                "the request expired before approval; ask again".into(),
            ));
        }
        let mut next = b.clone();
        next.status = BindingStatus::Granting;
        next.approved_by = Some(caller.subject.clone());
        next.approved_at = Some(now);
        next.expires_at = Some(policy::expires(
            now,
            Duration::from_secs(b.duration_seconds),
        ));
        let origin = Origin::person(&caller.subject);
        let audit = Event::new(
            "elevation.approved",
            &origin,
            &b.incident,
            Some(id.as_str()),
            json!({"binding": id, "from": b.status, "status": next.status,
                "approved_by": caller.subject, "subject": b.subject,
                "expires_at": next.expires_at}),
        );
        let due = Schedule::At(policy::expires(now, GRANT_DEADLINE));
        match self
            .bindings
            .update(&current, &next, due, &[audit], true, now)
            .await?
        {
            UpdateOutcome::Ok => self.grant_detached(id.clone(), origin).await,
            UpdateOutcome::IncidentNotOpen => Err(Denial::IncidentNotOpen.into()),
            UpdateOutcome::Conflict => Err(ElevationError::Forbidden(
                "the binding changed meanwhile; read it again".into(),
            )),
        }
    }

    /// `GET /v1/elevations/{id}`: its holder, an admin, or a responder (present or past) of its incident.
    pub async fn get(&self, caller: &Principal, id: &BindingId) -> Result<Binding, ElevationError> {
        let b = self
            .bindings
            .get(id)
            .await?
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?
            .binding;
        if caller.admin || b.subject.eq_ignore_ascii_case(&caller.subject) {
            return Ok(b);
        }
        let incident = self.incidents.get(&b.incident).await?;
        if incident.is_some_and(|i| i.is_or_was_responder(&caller.subject)) {
            return Ok(b);
        }
        Err(ElevationError::Forbidden(
            "you may read your own bindings and those of incidents you respond to".into(),
        ))
    }

    /// `DELETE /v1/elevations/{id}`: its holder or an admin ends it; the role goes within moments.
    pub async fn revoke(
        &self,
        caller: &Principal,
        id: &BindingId,
    ) -> Result<Binding, ElevationError> {
        let current = self
            .bindings
            .get(id)
            .await?
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
        let holder = current
            .binding
            .subject
            .eq_ignore_ascii_case(&caller.subject);
        if !holder && !caller.admin {
            return Err(ElevationError::Forbidden(
                "only the holder or an admin may revoke a binding".into(),
            ));
        }
        if !current.binding.status.is_live() || current.binding.status == BindingStatus::Revoking {
            return Ok(current.binding);
        }
        let reason = if holder {
            EndReason::RevokedByHolder
        } else {
            EndReason::RevokedByAdmin
        };
        let by = caller.subject.clone();
        let next = self
            .settle(id, &Origin::person(&caller.subject), json!({}), |b| {
                if b.status.is_live() && b.status != BindingStatus::Revoking {
                    b.status = BindingStatus::Revoking;
                    b.end_reason = Some(reason);
                    b.ended_by = Some(by.clone());
                }
                (Schedule::At(Utc::now()), "binding.revoking")
            })
            .await?;
        self.kick.notify_one();
        Ok(next)
    }

    /// Every binding of an incident (for the incident view).
    pub async fn for_incident(&self, incident: &IncidentId) -> Result<Vec<Binding>, StoreError> {
        self.bindings.for_incident(incident).await
    }

    /// Wake the scheduler (after a resolve queued revocations).
    pub fn kick(&self) {
        self.kick.notify_one();
    }
}
