//! The elevation decision: a pure function of the incident, the requester, the role, the request
//! and the clock. No I/O, so every rule is tested directly; the service only gathers the inputs.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::bindings::Approval;
use crate::config::RoleEntry;
use crate::incidents::{Incident, Status};
use crate::keyspace::account_name;

/// The longest reason kept; longer ones are refused rather than cut, since the reason is evidence.
pub const MAX_REASON: usize = 1000;

/// A role from the catalogue, as the decision needs it.
#[derive(Debug, Clone)]
pub struct Role {
    pub entry: RoleEntry,
    pub approval: Approval,
    pub max_duration: Duration,
}

impl Role {
    pub fn new(entry: RoleEntry) -> Self {
        let approval = if entry.approval == "peer" {
            Approval::Peer
        } else {
            Approval::Auto
        };
        let max_duration = entry.max_duration.into();
        Self {
            entry,
            approval,
            max_duration,
        }
    }

    pub fn name(&self) -> &str {
        &self.entry.name
    }
}

/// A request as the API received it, before validation.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub duration: &'a serde_json::Value,
    pub reason: Option<&'a str>,
}

/// What the decision allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Grant at once, for this long: the binding expires at `expires_at`.
    Grant {
        duration: Duration,
        expires_at: DateTime<Utc>,
    },
    /// Wait for another responder's approval.
    NeedsApproval {
        duration: Duration,
    },
    Deny(Denial),
}

/// The rule that failed. Each maps to one of the API's error codes (docs/api.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("the incident is resolved; access ends with the incident")]
    IncidentNotOpen,
    #[error("you are not a responder on this incident; the incident tool must assign you, or add you as a responder, first")]
    NotOnCall,
    #[error("role `{role}` is not allowed for this incident: {why}")]
    RoleNotAllowed { role: String, why: String },
    #[error("{0}")]
    InvalidRequest(String),
    #[error("you already hold {held} active or pending bindings, the most allowed; revoke one you no longer need (DELETE /v1/elevations/<id>)")]
    TooManyActive { held: usize },
}

impl Denial {
    /// The rule that failed, as the audit trail names it.
    pub fn rule(&self) -> &'static str {
        match self {
            Denial::IncidentNotOpen => "incident_not_open",
            Denial::NotOnCall => "not_on_call",
            Denial::RoleNotAllowed { .. } => "role_not_allowed",
            Denial::InvalidRequest(_) => "invalid_request",
            Denial::TooManyActive { .. } => "too_many_active",
        }
    }
}

/// The account a request is granted in: the one it names, which the role must allow, or the
/// role's only account when it names none. A role without `accounts` is granted in the
/// service's own account, `own` (which also answers to `default`).
pub fn account(role: &Role, asked: Option<&str>, own: &str) -> Result<String, Denial> {
    let own_alias = |name: &str| account_name(name, own).to_owned();
    let allowed: Vec<String> = match &role.entry.accounts {
        Some(accounts) => accounts.iter().map(|a| own_alias(a)).collect(),
        None => vec![own.to_owned()],
    };
    match asked.map(str::trim) {
        Some(name) if !name.is_empty() => {
            let name = own_alias(name);
            if allowed.contains(&name) {
                Ok(name)
            } else {
                Err(Denial::RoleNotAllowed {
                    role: role.name().to_owned(),
                    why: format!(
                        "it is not granted in account `{}`; ask for one of: {}",
                        name.chars().take(64).collect::<String>(),
                        allowed.join(", ")
                    ),
                })
            }
        }
        _ => match &allowed[..] {
            [only] => Ok(only.clone()),
            _ => Err(Denial::InvalidRequest(format!(
                "role `{}` is granted in several accounts; name one with \"account\": {}",
                role.name(),
                allowed.join(", ")
            ))),
        },
    }
}

/// Everything the decision looks at.
pub struct Inputs<'a> {
    pub incident: &'a Incident,
    pub requester: &'a str,
    pub role: &'a Role,
    pub request: Request<'a>,
    /// Live bindings the requester holds now, and the most they may hold.
    pub held: usize,
    pub max_held: usize,
    pub now: DateTime<Utc>,
}

pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let duration = match parse_duration(inputs.request.duration, inputs.role) {
        Ok(d) => d,
        Err(why) => return Decision::Deny(Denial::InvalidRequest(why)),
    };
    match inputs.request.reason.map(str::trim) {
        None | Some("") => {
            return Decision::Deny(Denial::InvalidRequest(
                "give a reason: what you need the access for (it goes into the audit trail)".into(),
            ))
        }
        Some(r) if r.chars().count() > MAX_REASON => {
            return Decision::Deny(Denial::InvalidRequest(format!(
                "the reason is longer than {MAX_REASON} characters; shorten it"
            )))
        }
        Some(_) => {}
    }
    if let Err(denial) = still_allowed(inputs.incident, inputs.requester, inputs.role) {
        return Decision::Deny(denial);
    }
    if inputs.held >= inputs.max_held {
        return Decision::Deny(Denial::TooManyActive { held: inputs.held });
    }
    match inputs.role.approval {
        Approval::Auto => Decision::Grant {
            duration,
            expires_at: expires(inputs.now, duration),
        },
        Approval::Peer => Decision::NeedsApproval { duration },
    }
}

/// The rules that depend on the incident, checked at request time and again when a peer
/// approves: the incident is open, the requester responds to it, and the role's conditions match.
pub fn still_allowed(incident: &Incident, requester: &str, role: &Role) -> Result<(), Denial> {
    if incident.status == Status::Resolved {
        return Err(Denial::IncidentNotOpen);
    }
    if !incident.is_responder(requester) {
        return Err(Denial::NotOnCall);
    }
    role_matches(role, incident).map_err(|why| Denial::RoleNotAllowed {
        role: role.name().to_owned(),
        why,
    })
}

/// When a grant of `duration` starting at `start` ends; the last instant chrono can hold when
/// the sum is past it (a duration no role cap allows, but never a panic).
pub fn expires(start: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    crate::bindings::model::after(start, duration)
}

/// `"90s"`, `"30m"`, `"1h"`, `"1h30m"`, `"120"` or `120`: from 1 second to the role's cap.
pub fn parse_duration(value: &serde_json::Value, role: &Role) -> Result<Duration, String> {
    let parsed = match value {
        serde_json::Value::Number(n) => n.as_u64().map(Duration::from_secs),
        serde_json::Value::String(s) => crate::config::ConfigDuration::parse(s).ok().map(|d| d.0),
        _ => None,
    };
    let Some(duration) = parsed else {
        return Err(
            "`duration` must be like \"30m\", \"1h\", \"90s\" or a number of seconds".into(),
        );
    };
    if duration.as_secs() < 1 || duration.subsec_nanos() != 0 {
        return Err("`duration` must be a whole number of seconds, at least 1".into());
    }
    if duration > role.max_duration {
        return Err(format!(
            "`duration` is over the cap of role `{}`: ask for at most {}",
            role.name(),
            humantime::format_duration(role.max_duration)
        ));
    }
    Ok(duration)
}

/// A role's `when` conditions against the incident. An absent list matches everything.
fn role_matches(role: &Role, incident: &Incident) -> Result<(), String> {
    let when = &role.entry.when;
    let listed = |list: &Option<Vec<String>>, value: Option<&str>| match list {
        None => true,
        Some(allowed) => value.is_some_and(|v| allowed.iter().any(|a| a.eq_ignore_ascii_case(v))),
    };
    if !listed(&when.sources, Some(incident.source.as_str())) {
        return Err(format!("it is for incidents from {}", join(&when.sources)));
    }
    if !listed(&when.services, incident.service.as_deref()) {
        return Err(format!("it is for services {}", join(&when.services)));
    }
    if !listed(&when.priorities, incident.priority.as_deref()) {
        return Err(format!("it is for priorities {}", join(&when.priorities)));
    }
    if let Some(teams) = &when.teams {
        let any = incident
            .teams
            .iter()
            .any(|t| teams.iter().any(|a| a.eq_ignore_ascii_case(t)));
        if !any {
            return Err(format!("it is for teams {}", join(&when.teams)));
        }
    }
    Ok(())
}

fn join(list: &Option<Vec<String>>) -> String {
    list.as_deref().unwrap_or_default().join(", ")
}

#[cfg(test)]
mod tests;
