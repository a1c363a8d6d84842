//! PagerDuty V3 webhooks (`{"event": {...}}`) to incident events.
//!
//! Each delivery carries one event. The lifecycle events (`incident.triggered`, `.acknowledged`,
//! `.reassigned`, ...; also `.service_updated`, since a move changes which roles match) carry the
//! whole incident in `event.data`, so each restates title, service, teams, priority, link, status
//! and the complete assignee list: assignees are always a [`PeopleChange::Replace`], which is what
//! makes a reassignment drop the old assignee. The acknowledging `agent` is added on top.
//! The two responder events carry a responder request instead, with the incident as a reference
//! in `event.data.incident`; they add (or, for a declined request, remove) one responder.
//!
//! Pings, non-incident resources and incident events that say nothing about status or people
//! (annotations, status updates, conference bridges, workflows, ...) are ignored, so that the
//! subscription keeps getting 2xx answers. The event type is read before the rest of the body so
//! that an ignored event whose data has an unfamiliar shape is still ignored, never rejected.
//!
//! Ordering uses `event.occurred_at`; de-duplication uses the event id, plus PagerDuty's
//! `X-Webhook-Id` delivery header when present.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::payload::{decode, rfc3339, text};
use super::{Normalized, PayloadError};
use crate::incidents::{
    IncidentEvent, IncidentId, PeopleChange, Reason, Source, Status, ToolUser, Transition,
};

/// Incident events whose `data` is the whole incident.
const SNAPSHOT_EVENTS: [&str; 10] = [
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.reassigned",
    "incident.escalated",
    "incident.delegated",
    "incident.priority_updated",
    "incident.service_updated",
];
/// Incident events whose `data` is a responder request.
const RESPONDER_EVENTS: [&str; 2] = ["incident.responder.added", "incident.responder.replied"];

/// Only the fields that decide whether the event is of interest; read first.
#[derive(Deserialize)]
struct Envelope {
    event: Option<Head>,
}

#[derive(Deserialize)]
struct Head {
    event_type: Option<String>,
    resource_type: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    event: Event,
}

#[derive(Deserialize)]
struct Event {
    id: Option<String>,
    occurred_at: Option<String>,
    agent: Option<Reference>,
    data: Option<Data>,
}

/// `event.data`: an incident, or a responder request (`type: incident_responder`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Data {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    title: Option<String>,
    status: Option<String>,
    html_url: Option<String>,
    created_at: Option<String>,
    service: Option<Reference>,
    assignees: Option<Vec<Reference>>,
    teams: Option<Vec<Reference>>,
    priority: Option<Reference>,
    incident: Option<Reference>,
    user: Option<Reference>,
    state: Option<String>,
}

/// PagerDuty's `*_reference` objects: users, services, teams, priorities, incidents.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Reference {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    summary: Option<String>,
    html_url: Option<String>,
}

impl Reference {
    fn user(&self) -> Option<ToolUser> {
        Some(ToolUser {
            id: text(self.id.as_deref())?,
            name: text(self.summary.as_deref()),
            ..ToolUser::default()
        })
    }
}

/// Normalize one PagerDuty V3 webhook body. `headers` supplies the delivery id.
pub fn normalize(body: &[u8], headers: &HeaderMap) -> Result<Normalized, PayloadError> {
    let head = decode::<Envelope>(body)?
        .event
        .ok_or(PayloadError::Missing("event"))?;
    let kind = head
        .event_type
        .ok_or(PayloadError::Missing("event.event_type"))?;
    let snapshot = SNAPSHOT_EVENTS.contains(&kind.as_str());
    let tracked = snapshot || RESPONDER_EVENTS.contains(&kind.as_str());
    if !tracked || head.resource_type.as_deref() != Some("incident") {
        return Ok(Normalized::Ignored { kind });
    }

    let event = decode::<Body>(body)?.event;
    let occurred_at = event
        .occurred_at
        .as_deref()
        .ok_or(PayloadError::Missing("event.occurred_at"))
        .and_then(|t| rfc3339(t).ok_or(PayloadError::Invalid("event.occurred_at")))?;
    let data = event.data.unwrap_or_default();
    let (native, id_field) = if snapshot {
        if data.kind.as_deref().is_some_and(|k| k != "incident") {
            return Err(PayloadError::Invalid("event.data.type"));
        }
        (data.id.as_deref(), "event.data.id")
    } else {
        let incident = data.incident.as_ref();
        (
            incident.and_then(|i| i.id.as_deref()),
            "event.data.incident.id",
        )
    };
    let native = native.ok_or(PayloadError::Missing(id_field))?;
    let incident =
        IncidentId::new(Source::Pagerduty, native).map_err(|_| PayloadError::Invalid(id_field))?;
    let event_id = event.id.ok_or(PayloadError::Missing("event.id"))?;
    if !is_key_part(&event_id) {
        return Err(PayloadError::Invalid("event.id"));
    }

    let opens = matches!(kind.as_str(), "incident.triggered" | "incident.reopened");
    let transition = if opens {
        Transition::Opens
    } else {
        Transition::Updates
    };
    let mut out = IncidentEvent::new(incident, kind.as_str(), occurred_at, transition);
    out.dedupe_keys.push(format!("pagerduty:event:{event_id}"));
    if let Some(delivery) = delivery_id(headers) {
        out.dedupe_keys
            .push(format!("pagerduty:delivery:{delivery}"));
    }
    if snapshot {
        restate(&mut out, &data);
    } else {
        out.link = text(data.incident.as_ref().and_then(|i| i.html_url.as_deref()));
        // `added` means the person was asked to help (still pending); a reply either confirms it
        // or, when declined, takes the person off again. Other reply states change nothing.
        if let Some(user) = data.user.as_ref().and_then(Reference::user) {
            let change = match (kind.as_str(), data.state.as_deref()) {
                ("incident.responder.added", _) | (_, Some("accepted")) => {
                    Some(PeopleChange::Add(vec![user]))
                }
                (_, Some("declined")) => Some(PeopleChange::Remove(vec![user])),
                _ => None,
            };
            out.people.extend(change.map(|c| (Reason::Responder, c)));
        }
    }
    if kind == "incident.acknowledged" {
        let agent = event
            .agent
            .filter(|a| a.kind.as_deref() == Some("user_reference"));
        if let Some(user) = agent.as_ref().and_then(Reference::user) {
            let change = PeopleChange::Add(vec![user]);
            out.people.push((Reason::Acknowledger, change));
        }
    }
    Ok(Normalized::Events(vec![out]))
}

/// Copy what an incident snapshot states into `out`.
fn restate(out: &mut IncidentEvent, data: &Data) {
    out.title = text(data.title.as_deref());
    out.service = text(data.service.as_ref().and_then(|s| s.summary.as_deref()));
    out.teams = data.teams.as_ref().map(|teams| {
        let names = teams.iter().filter_map(|t| text(t.summary.as_deref()));
        names.collect()
    });
    out.priority = text(data.priority.as_ref().and_then(|p| p.summary.as_deref()));
    out.link = text(data.html_url.as_deref());
    out.status = match (data.status.as_deref(), out.kind.as_str()) {
        (Some("triggered"), _) => Some(Status::Open),
        (Some("acknowledged"), _) => Some(Status::Acknowledged),
        (Some("resolved"), _) => Some(Status::Resolved),
        // The rare payload without a status: what the event type implies.
        (_, "incident.triggered" | "incident.reopened" | "incident.unacknowledged") => {
            Some(Status::Open)
        }
        (_, "incident.acknowledged") => Some(Status::Acknowledged),
        (_, "incident.resolved") => Some(Status::Resolved),
        _ => None,
    };
    out.opened_at = data.created_at.as_deref().and_then(rfc3339);
    if out.kind == "incident.triggered" {
        out.opened_at = out.opened_at.or(Some(out.occurred_at));
    }
    if out.kind == "incident.resolved" {
        out.resolved_at = Some(out.occurred_at);
    }
    if let Some(assignees) = &data.assignees {
        let users = assignees.iter().filter_map(Reference::user).collect();
        out.people
            .push((Reason::Assignee, PeopleChange::Replace(users)));
    }
}

/// `X-Webhook-Id`, the id PagerDuty keeps across retries of one delivery. Unusable values are
/// skipped rather than rejected: the event id already de-duplicates.
fn delivery_id(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("x-webhook-id")?;
    std::str::from_utf8(value.as_bytes())
        .ok()
        .filter(|v| is_key_part(v))
}

/// Ids that go into de-duplication keys: 1 to 200 printable ASCII characters, no spaces.
fn is_key_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests;
