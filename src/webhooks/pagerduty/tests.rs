use super::*;
use crate::webhooks::test_support::{check, single};
use axum::http::HeaderValue;
use serde_json::{json, Value};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/pagerduty/", $name)).as_slice()
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
    let Ok(Normalized::Events(events)) = normalize(fixture!("incident.triggered.json"), &headers)
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
