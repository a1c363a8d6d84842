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
mod tests {
    use super::*;
    use crate::webhooks::test_support::{check, single};
    use axum::http::HeaderValue;
    use serde_json::{json, Value};

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/fixtures/pagerduty/", $name)).as_slice()
        };
    }

    fn run(body: &[u8]) -> IncidentEvent {
        single(normalize(body, &HeaderMap::new()))
    }

    #[test]
    fn every_incident_fixture_maps_to_its_event() {
        let pig = json!({"status": "open", "title": "Test Incident", "service": "pig208",
            "teams": [], "transition": "updates",
            "people": [["assignee", {"op": "replace", "users": [{"id": "PJ0LVEB", "name": "PIG 208"}]}]]});
        let harsh = json!({"id": "PXRUEF2", "name": "Harsh Santwani"});
        let checkout = json!({"incident": "pagerduty:Q3B15VLMF3ASBD", "status": "open",
            "title": "Critical: Checkout API High Latency", "service": "Default Service", "teams": [],
            "link": "https://harsh0303.pagerduty.com/incidents/Q3B15VLMF3ASBD",
            "opened_at": "2026-04-01T02:07:30Z", "transition": "updates",
            "people": [["assignee", {"op": "replace", "users": [harsh]}]]});
        let bump = json!({"incident": "pagerduty:PGR0VU2", "kind": "incident.priority_updated",
            "status": "open", "title": "A little bump in the road", "service": "API Service",
            "teams": ["Engineering"], "priority": "P1", "transition": "updates",
            "link": "https://acme.pagerduty.com/incidents/PGR0VU2",
            "people": [["assignee", {"op": "replace", "users": [{"id": "PTUXL6G", "name": "User 123"}]}]]});
        let responder = json!({"incident": "pagerduty:Q3B15VLMF3ASBD", "transition": "updates",
            "link": "https://harsh0303.pagerduty.com/incidents/Q3B15VLMF3ASBD",
            "people": [["responder", {"op": "add", "users": [harsh]}]]});

        check! { "incident.triggered.json", pig, {
        "incident": "pagerduty:PFQZPSY", "kind": "incident.triggered", "transition": "opens",
        "occurred_at": "2021-06-04T13:35:29.781Z", "opened_at": "2021-06-04T13:35:29.781Z",
        "dedupe_keys": ["pagerduty:event:01BZYIL05THJDFF2Y08X9SVMTU"], "title": "Test Incident 3",
        "link": "https://pig208.pagerduty.com/incidents/PFQZPSY"} }
        check! { "incident.acknowledged.json", pig, {
        "incident": "pagerduty:PQ1K5C8", "kind": "incident.acknowledged", "status": "acknowledged",
        "occurred_at": "2021-06-04T13:55:30.394Z",
        "dedupe_keys": ["pagerduty:event:01BZYK8N47N5JG55J1EEEHPEJI"],
        "link": "https://pig208.pagerduty.com/incidents/PQ1K5C8",
        "people": [["assignee", {"op": "replace", "users": [{"id": "PJ0LVEB", "name": "PIG 208"}]}],
                   ["acknowledger", {"op": "add", "users": [{"id": "PJ0LVEB", "name": "PIG 208"}]}]]} }
        check! { "incident.unacknowledged.json", pig, {
        "incident": "pagerduty:PQ1K5C8", "kind": "incident.unacknowledged",
        "occurred_at": "2021-06-04T13:54:23.185Z",
        "dedupe_keys": ["pagerduty:event:01BZYK5B3WC0QI62S87MJX7FCD"],
        "link": "https://pig208.pagerduty.com/incidents/PQ1K5C8"} }
        check! { "incident.resolved.json", pig, {
        "incident": "pagerduty:PCPZE64", "kind": "incident.resolved", "status": "resolved",
        "occurred_at": "2021-06-04T13:16:53.816Z", "resolved_at": "2021-06-04T13:16:53.816Z",
        "dedupe_keys": ["pagerduty:event:01BZYH1JJY09P9LEIST8HG2PMN"],
        "link": "https://pig208.pagerduty.com/incidents/PCPZE64",
        "people": [["assignee", {"op": "replace", "users": []}]]} }
        check! { "incident.reassigned.json", pig, {
        "incident": "pagerduty:PIQUG8X", "kind": "incident.reassigned",
        "occurred_at": "2021-06-04T10:17:54.838Z",
        "dedupe_keys": ["pagerduty:event:01BZY282OVDQMFPDC3VB98DR1L"],
        "link": "https://pig208.pagerduty.com/incidents/PIQUG8X",
        "people": [["assignee", {"op": "replace", "users": [{"id": "PI9DT01", "name": "Test User"}]}]]} }
        check! { "incident.reopened.json", checkout, {
        "incident": "pagerduty:Q05XJA8GDXGOB3", "kind": "incident.reopened", "transition": "opens",
        "occurred_at": "2026-04-01T02:15:02.274Z", "opened_at": "2026-03-30T13:37:07Z",
        "dedupe_keys": ["pagerduty:event:01GI0KHLHVH4YZ44BJY1VLT6F2"],
        "title": "Test Incident 2", "priority": "P3",
        "link": "https://harsh0303.pagerduty.com/incidents/Q05XJA8GDXGOB3"} }
        check! { "incident.escalated.json", checkout, {
        "kind": "incident.escalated", "occurred_at": "2026-04-01T02:08:04.642Z", "priority": "P1",
        "dedupe_keys": ["pagerduty:event:01GI0JWUU28G8XE5M6IIT4BZ39"]} }
        check! { "incident.delegated.json", checkout, {
        "kind": "incident.delegated", "occurred_at": "2026-04-01T02:13:20.295Z", "priority": "P1",
        "dedupe_keys": ["pagerduty:event:01GI0KCK1VJGU2A90B814E1RF0"]} }
        check! { "incident.priority_updated.json", checkout, {
        "kind": "incident.priority_updated", "occurred_at": "2026-04-01T02:15:36.315Z",
        "priority": "P2", "dedupe_keys": ["pagerduty:event:01GI0KJAEAC3CFEOFSC8BIJF3O"]} }
        check! { "incident.priority_updated.developer-docs.json", bump, {
        "occurred_at": "2020-10-02T18:45:22.169Z", "opened_at": "2020-04-09T15:16:27Z",
        "dedupe_keys": ["pagerduty:event:5ac64822-4adc-4fda-ade0-410becf0de4f"]} }
        check! { "signature-vector.incident.priority_updated.body.json", bump, {
        "occurred_at": "2021-04-26T17:36:27.458Z",
        "dedupe_keys": ["pagerduty:event:01BWDWL3NYY7LUFPZCC28QUCMK"]} }
        check! { "incident.responder.added.json", responder, {
        "kind": "incident.responder.added", "occurred_at": "2026-04-01T02:20:14.737Z",
        "dedupe_keys": ["pagerduty:event:01GI0KX4BFZXPEDNCS4USCAH22"]} }
        check! { "incident.responder.replied.json", responder, {
        "kind": "incident.responder.replied", "occurred_at": "2026-04-01T02:21:54.532Z",
        "dedupe_keys": ["pagerduty:event:01GI0L22UIJYVH9Y2II3TNPVER"]} }
    }

    /// A fixture with one JSON value replaced.
    fn edited(body: &[u8], pointer: &str, value: Value) -> Vec<u8> {
        let mut json: Value = serde_json::from_slice(body).expect("fixture");
        *json.pointer_mut(pointer).expect("pointer") = value;
        serde_json::to_vec(&json).expect("json")
    }

    #[test]
    fn declined_reply_removes_the_responder() {
        let replied = fixture!("incident.responder.replied.json");
        let body = edited(replied, "/event/data/state", "declined".into());
        let user = ToolUser {
            name: Some("Harsh Santwani".into()),
            ..ToolUser::by_id("PXRUEF2")
        };
        let remove = PeopleChange::Remove(vec![user]);
        assert_eq!(run(&body).people, vec![(Reason::Responder, remove)]);
    }

    #[test]
    fn webhook_id_header_adds_a_delivery_key() {
        let mut headers = HeaderMap::new();
        headers.insert("x-webhook-id", HeaderValue::from_static("d-123"));
        let Ok(Normalized::Events(events)) =
            normalize(fixture!("incident.triggered.json"), &headers)
        else {
            panic!("expected events");
        };
        let keys = [
            "pagerduty:event:01BZYIL05THJDFF2Y08X9SVMTU",
            "pagerduty:delivery:d-123",
        ];
        assert_eq!(events[0].dedupe_keys, keys);
    }

    #[test]
    fn pings_other_resources_and_untracked_types_are_ignored() {
        let none = HeaderMap::new();
        let ignored = |kind: &str| Ok(Normalized::Ignored { kind: kind.into() });
        assert_eq!(
            normalize(fixture!("pagey.ping.json"), &none),
            ignored("pagey.ping")
        );
        let annotated = br#"{"event":{"id":"E1","event_type":"incident.annotated","resource_type":
            "incident","data":{"incident":{"id":"P1"},"content":["odd"],"status":7}}}"#;
        assert_eq!(normalize(annotated, &none), ignored("incident.annotated"));
        let service = br#"{"event":{"event_type":"service.created","resource_type":"service"}}"#;
        assert_eq!(normalize(service, &none), ignored("service.created"));
    }

    #[test]
    fn bad_bodies_are_rejected_without_panicking() {
        let none = HeaderMap::new();
        let triggered = fixture!("incident.triggered.json");
        let result = |body: &[u8]| normalize(body, &none);
        assert!(matches!(result(b"{\"event\":"), Err(PayloadError::Json(_))));
        assert!(matches!(result(b"[1,2]"), Err(PayloadError::Json(_))));
        assert_eq!(result(b"{}"), Err(PayloadError::Missing("event")));
        let no_id = edited(triggered, "/event/data/id", Value::Null);
        assert_eq!(result(&no_id), Err(PayloadError::Missing("event.data.id")));
        let bad_id = edited(triggered, "/event/data/id", "has space".into());
        assert_eq!(result(&bad_id), Err(PayloadError::Invalid("event.data.id")));
        let bad_time = edited(triggered, "/event/occurred_at", "yesterday".into());
        assert_eq!(
            result(&bad_time),
            Err(PayloadError::Invalid("event.occurred_at"))
        );
    }
}
