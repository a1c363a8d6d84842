//! Opsgenie Webhook integration bodies (`{"action", "alert": {...}, "integrationName"}`) to
//! incident events. The incident is the alert, `opsgenie:<alert.alertId>`.
//!
//! Opsgenie sends no event id and no event time, only the alert's `updatedAt` (nanoseconds) and
//! `createdAt` (milliseconds). The newer of the two orders events, and the de-duplication key is
//! `opsgenie:<alertId>:<action>:<that raw number>`: stable across retries (the body is never
//! hashed), distinct for every change to the alert.
//!
//! People are keyed by Opsgenie username (always an email address), which is what the
//! `[[responders]]` directory holds for Opsgenie. The acknowledger, the owner, added recipients
//! and user responders count, as the design says; an escalation's notified person does not.
//! Recipients are added only when they look like a username: `AddRecipient` also names teams,
//! schedules and escalations (`team2_escalation`), which are not people.
//!
//! Metadata is restated by every action: title (`message`), priority (`P3`, or a bare number
//! `3` from older payloads), service and teams. The service is `details.service`; on `Create`
//! only, it falls back to `entity`, then the integration's name (Opsgenie sends `details` with
//! `Create` alone, so a fallback on later actions would overwrite what `Create` said). Teams are names only: `alert.teams` holds ids, which no config can match, so
//! the teams are `alert.team` plus the names of team responders; on `AddTeam`, `alert.team` is
//! just the added team, so only the responders snapshot counts there.
//!
//! Unknown actions are ignored: an action whose meaning is unknown could otherwise create an
//! open incident for an alert breakglass never saw. Known metadata-only actions that carry no
//! timestamp (the `Escalate` body carries only the alert id) are ignored too: there is nothing
//! to order them by and nothing to apply. `Delete` resolves, so grants never outlive the alert.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::payload::{decode, text};
use super::{Normalized, PayloadError};
use crate::incidents::{
    IncidentEvent, IncidentId, PeopleChange, Reason, Source, Status, ToolUser, Transition,
};

/// Actions that change status or people: without a timestamp they are an error, not ignored.
const STATE_ACTIONS: [&str; 9] = [
    "Create",
    "Acknowledge",
    "UnAcknowledge",
    "Close",
    "Delete",
    "AssignOwnership",
    "TakeOwnership",
    "AddRecipient",
    "AddResponder",
];
/// Actions that only restate the alert's metadata (and any user responders it lists).
const METADATA_ACTIONS: [&str; 14] = [
    "AddNote",
    "AddTeam",
    "AddTags",
    "RemoveTags",
    "AddDetails",
    "RemoveDetails",
    "UpdatePriority",
    "UpdateMessage",
    "UpdateDescription",
    "Escalate",
    "EscalateNext",
    "Snooze",
    "SnoozeEnded",
    "CustomAction",
];

#[derive(Deserialize)]
struct Envelope {
    action: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    alert: Option<Alert>,
    #[serde(rename = "integrationName")]
    integration_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Alert {
    alert_id: Option<String>,
    message: Option<String>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
    username: Option<String>,
    owner: Option<String>,
    recipient: Option<String>,
    /// Undocumented shape: a user or team object, or a bare name.
    responder: Option<Value>,
    responders: Option<Vec<Responder>>,
    team: Option<String>,
    /// `"P3"`, or `3` in older payloads.
    priority: Option<Value>,
    entity: Option<String>,
    details: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Responder {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    username: Option<String>,
}

/// Normalize one Opsgenie webhook body.
pub fn normalize(body: &[u8]) -> Result<Normalized, PayloadError> {
    let action = decode::<Envelope>(body)?
        .action
        .ok_or(PayloadError::Missing("action"))?;
    let state_action = STATE_ACTIONS.contains(&action.as_str());
    if !state_action && !METADATA_ACTIONS.contains(&action.as_str()) {
        return Ok(Normalized::Ignored { kind: action });
    }
    let body = decode::<Body>(body)?;
    let alert = body.alert.ok_or(PayloadError::Missing("alert"))?;
    let native = alert
        .alert_id
        .as_deref()
        .ok_or(PayloadError::Missing("alert.alertId"))?;
    let incident = IncidentId::new(Source::Opsgenie, native)
        .map_err(|_| PayloadError::Invalid("alert.alertId"))?;

    let (occurred_at, raw) = match (alert.updated_at, alert.created_at) {
        (Some(ns), _) => (nanos(ns)?, ns),
        (None, Some(ms)) => (millis(ms)?, ms),
        (None, None) if state_action => return Err(PayloadError::Missing("alert.updatedAt")),
        (None, None) => return Ok(Normalized::Ignored { kind: action }),
    };

    let transition = if action == "Create" {
        Transition::Opens
    } else {
        Transition::Updates
    };
    let mut out = IncidentEvent::new(incident, action.as_str(), occurred_at, transition);
    out.dedupe_keys
        .push(format!("opsgenie:{native}:{action}:{raw}"));
    out.title = text(alert.message.as_deref());
    out.priority = match &alert.priority {
        Some(Value::String(p)) => text(Some(p)),
        Some(Value::Number(n)) => n.as_u64().map(|n| format!("P{n}")),
        _ => None,
    };
    let detail_service = alert.details.as_ref().and_then(|d| d.get("service"));
    out.service = text(detail_service.and_then(Value::as_str));
    if action == "Create" {
        // Only Create carries `details`; the fallbacks would otherwise overwrite the service
        // that Create stated on every later action.
        out.service = out
            .service
            .or_else(|| text(alert.entity.as_deref()))
            .or_else(|| text(body.integration_name.as_deref()));
    }
    out.teams = teams(&alert, &action);
    out.opened_at = alert.created_at.and_then(|ms| millis(ms).ok());

    out.status = match action.as_str() {
        "Create" | "UnAcknowledge" => Some(Status::Open),
        "Acknowledge" => Some(Status::Acknowledged),
        "Close" | "Delete" => Some(Status::Resolved),
        _ => None,
    };
    if out.status == Some(Status::Resolved) {
        out.resolved_at = Some(occurred_at);
    }
    let named = match action.as_str() {
        "Acknowledge" => Some((Reason::Acknowledger, user(alert.username.as_deref()))),
        "AssignOwnership" => Some((Reason::Owner, user(alert.owner.as_deref()))),
        "TakeOwnership" => Some((Reason::Owner, user(alert.username.as_deref()))),
        "AddRecipient" => Some((Reason::Responder, user(alert.recipient.as_deref()))),
        "AddResponder" => Some((Reason::Responder, added_responder(alert.responder.as_ref()))),
        _ => None,
    };
    if let Some((reason, Some(person))) = named {
        // An alert has one owner; acknowledgers and responders accumulate.
        let change = if reason == Reason::Owner {
            PeopleChange::Replace(vec![person])
        } else {
            PeopleChange::Add(vec![person])
        };
        out.people.push((reason, change));
    }
    if action == "UnAcknowledge" {
        let cleared = PeopleChange::Replace(vec![]);
        out.people.push((Reason::Acknowledger, cleared));
    }
    let listed: Vec<ToolUser> = alert
        .responders
        .iter()
        .flatten()
        .filter(|r| r.kind.as_deref() == Some("user"))
        .filter_map(|r| user(r.name.as_deref().or(r.username.as_deref())))
        .collect();
    if !listed.is_empty() {
        out.people
            .push((Reason::Responder, PeopleChange::Add(listed)));
    }
    Ok(Normalized::Events(vec![out]))
}

/// A person by Opsgenie username. Usernames are email addresses, so anything else (a team,
/// schedule or escalation name) is not a person.
fn user(username: Option<&str>) -> Option<ToolUser> {
    let username = text(username).filter(|u| u.contains('@'))?;
    Some(ToolUser {
        id: username.clone(),
        username: Some(username),
        ..ToolUser::default()
    })
}

/// `alert.responder` on `AddResponder`: a user object (`type: user`) or a bare username.
fn added_responder(responder: Option<&Value>) -> Option<ToolUser> {
    match responder? {
        Value::String(name) => user(Some(name)),
        Value::Object(fields) => {
            if fields.get("type").and_then(Value::as_str) != Some("user") {
                return None;
            }
            let name = ["username", "name"]
                .iter()
                .find_map(|k| fields.get(*k).and_then(Value::as_str));
            user(name)
        }
        _ => None,
    }
}

/// Team names the alert states, or None when it states none (so stored teams stay as they are).
fn teams(alert: &Alert, action: &str) -> Option<Vec<String>> {
    let owner_team = if action == "AddTeam" {
        None
    } else {
        text(alert.team.as_deref())
    };
    let responder_teams = alert
        .responders
        .iter()
        .flatten()
        .filter(|r| r.kind.as_deref() == Some("team"))
        .filter_map(|r| text(r.name.as_deref()));
    let mut teams: Vec<String> = Vec::new();
    for team in owner_team.into_iter().chain(responder_teams) {
        if !teams.contains(&team) {
            teams.push(team);
        }
    }
    (!teams.is_empty()).then_some(teams)
}

fn nanos(ns: i64) -> Result<DateTime<Utc>, PayloadError> {
    if ns <= 0 {
        return Err(PayloadError::Invalid("alert.updatedAt"));
    }
    Ok(DateTime::from_timestamp_nanos(ns))
}

fn millis(ms: i64) -> Result<DateTime<Utc>, PayloadError> {
    DateTime::from_timestamp_millis(ms)
        .filter(|_| ms > 0)
        .ok_or(PayloadError::Invalid("alert.createdAt"))
}

#[cfg(test)]
mod tests;
