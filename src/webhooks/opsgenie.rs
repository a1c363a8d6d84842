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
mod tests {
    use super::*;
    use crate::webhooks::test_support::{check, single};
    use serde_json::json;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/fixtures/opsgenie/", $name)).as_slice()
        };
    }

    fn run(body: &[u8]) -> IncidentEvent {
        single(normalize(body))
    }

    #[test]
    fn every_fixture_with_a_timestamp_maps_to_its_event() {
        let none = json!({"transition": "updates", "people": []});
        // The zulip fixtures' alert, created 2015-01-05T10:03:11.104Z. Its actions carry no
        // `details`, so they state no service (only Create falls back to the integration).
        let alert = "opsgenie:052652ac-5d1c-464a-812a-7dd18bbfba8c";
        let zulip = json!({"incident": alert, "transition": "updates", "title": "test alert",
            "opened_at": "2015-01-05T10:03:11.104Z", "people": []});
        let fili = json!({"id": "fili@ifountain.com", "username": "fili@ifountain.com"});

        check! { "Create.json", none, {
        "incident": "opsgenie:7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295",
        "kind": "Create", "transition": "opens", "status": "open",
        "occurred_at": "2020-06-30T00:06:04.636Z", "opened_at": "2020-06-30T00:06:04.295Z",
        "dedupe_keys": ["opsgenie:7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295:Create:1593475564636000000"],
        "title": "asdf", "service": "operations_Webhook_2", "teams": ["operations"], "priority": "P3"} }
        check! { "Create.zulip.json", none, {
        "incident": "opsgenie:ec03dad6-62c8-4c94-b38b-d88f398e900f",
        "kind": "Create", "transition": "opens", "status": "open",
        "occurred_at": "2017-08-14T11:25:56.288000110Z", "opened_at": "2017-08-14T11:25:56.288Z",
        "dedupe_keys": ["opsgenie:ec03dad6-62c8-4c94-b38b-d88f398e900f:Create:1502709956288000110"],
        "title": "another alert", "service": "Server", "priority": "P3"} }
        check! { "Acknowledge.json", zulip, {
        "kind": "Acknowledge", "status": "acknowledged", "occurred_at": "2015-01-05T10:03:44.764002246Z",
        "dedupe_keys": [format!("{alert}:Acknowledge:1420452224764002246")],
        "people": [["acknowledger", {"op": "add", "users": [fili]}]]} }
        check! { "UnAcknowledge.json", zulip, {
        "kind": "UnAcknowledge", "status": "open", "occurred_at": "2015-01-05T10:03:44.764002246Z",
        "dedupe_keys": [format!("{alert}:UnAcknowledge:1420452224764002246")],
        "people": [["acknowledger", {"op": "replace", "users": []}]]} }
        check! { "Close.json", zulip, {
        "kind": "Close", "status": "resolved", "occurred_at": "2015-01-05T10:06:14.669001603Z",
        "resolved_at": "2015-01-05T10:06:14.669001603Z",
        "dedupe_keys": [format!("{alert}:Close:1420452374669001603")]} }
        check! { "AssignOwnership.json", zulip, {
        "kind": "AssignOwnership", "occurred_at": "2015-01-05T10:06:14.669001603Z",
        "dedupe_keys": [format!("{alert}:AssignOwnership:1420452374669001603")],
        "people": [["owner", {"op": "replace",
            "users": [{"id": "user2@ifountain.com", "username": "user2@ifountain.com"}]}]]} }
        check! { "TakeOwnership.json", none, {
        "incident": "opsgenie:8a745a79-3ed3-4044-8427-98e067c0623c", "kind": "TakeOwnership",
        "occurred_at": "2016-08-05T07:51:17.928000335Z", "opened_at": "2016-08-03T12:21:33.192Z",
        "dedupe_keys": ["opsgenie:8a745a79-3ed3-4044-8427-98e067c0623c:TakeOwnership:1470383477928000335"],
        "title": "message test",
        "people": [["owner", {"op": "replace", "users": [{"id": "test@test.com", "username": "test@test.com"}]}]]} }
        // The recipient is an escalation, not a person; the added team is no full team list.
        check! { "AddRecipient.json", zulip, {
        "kind": "AddRecipient", "occurred_at": "2015-01-05T10:04:34.617001925Z",
        "dedupe_keys": [format!("{alert}:AddRecipient:1420452274617001925")]} }
        check! { "AddTeam.json", zulip, {
        "kind": "AddTeam", "occurred_at": "2015-01-05T10:04:16.147001924Z",
        "dedupe_keys": [format!("{alert}:AddTeam:1420452256147001924")]} }
        check! { "AddNote.json", none, {
        "incident": "opsgenie:f3efa74b-29cc-4a4f-9bb7-804d7c1be544-1639476708514", "kind": "AddNote",
        "occurred_at": "2021-12-14T22:34:40.284Z", "opened_at": "2021-12-14T10:11:48.514Z",
        "dedupe_keys": ["opsgenie:f3efa74b-29cc-4a4f-9bb7-804d7c1be544-1639476708514:AddNote:1639521280284000000"],
        "title": "[Prometheus]: [FIRING:1]  (NonCompletedDeletions lykon-service-0.8.3 app http-probe 10.0.3.129:9090 gdpr-deleter-srv gdpr gdpr-del",
        "service": "gdpr-deleter-srv", "teams": ["Tech"], "priority": "P1"} }
    }

    #[test]
    fn escalate_without_timestamps_is_ignored() {
        let kind = "Escalate".to_owned();
        let escalate = normalize(fixture!("Escalate.json"));
        assert_eq!(escalate, Ok(Normalized::Ignored { kind }));
    }

    fn person(username: &str) -> ToolUser {
        ToolUser {
            username: Some(username.into()),
            ..ToolUser::by_id(username)
        }
    }

    #[test]
    fn user_recipients_and_user_responders_are_added() {
        let body = String::from_utf8_lossy(fixture!("AddRecipient.json"))
            .replace("team2_escalation", "bob@example.com");
        let bob = PeopleChange::Add(vec![person("bob@example.com")]);
        assert_eq!(run(body.as_bytes()).people, [(Reason::Responder, bob)]);

        let body = br#"{"action":"AddResponder","alert":{"alertId":"a1","updatedAt":5,
            "responder":{"type":"user","name":"carol@example.com"},
            "responders":[{"type":"user","name":"dave@example.com"},{"type":"team","name":"ops"}]}}"#;
        let event = run(body);
        assert_eq!(event.teams, Some(vec!["ops".into()]));
        let carol = PeopleChange::Add(vec![person("carol@example.com")]);
        let dave = PeopleChange::Add(vec![person("dave@example.com")]);
        let expected = [(Reason::Responder, carol), (Reason::Responder, dave)];
        assert_eq!(event.people, expected);
    }

    proptest::proptest! {
        #[test]
        fn any_numbers_in_time_and_priority_fields_are_handled(
            updated: Option<i64>, created: Option<i64>, priority: i64
        ) {
            let body = json!({"action": "Close", "alert": {"alertId": "a1",
                "updatedAt": updated, "createdAt": created, "priority": priority}});
            let _ = normalize(&serde_json::to_vec(&body).expect("json"));
        }
    }

    #[test]
    fn unknown_actions_are_ignored_and_bad_bodies_rejected() {
        let kind = "SomethingNew".to_owned();
        let unknown = br#"{"action":"SomethingNew","alert":{"alertId":7}}"#;
        assert_eq!(normalize(unknown), Ok(Normalized::Ignored { kind }));
        assert!(matches!(
            normalize(b"{\"action\":\"Cre"),
            Err(PayloadError::Json(_))
        ));
        assert!(matches!(
            normalize(b"\"Create\""),
            Err(PayloadError::Json(_))
        ));
        assert_eq!(normalize(b"{}"), Err(PayloadError::Missing("action")));
        let no_id = br#"{"action":"Create","alert":{"createdAt":1}}"#;
        assert_eq!(
            normalize(no_id),
            Err(PayloadError::Missing("alert.alertId"))
        );
        let bad_id = br#"{"action":"Create","alert":{"alertId":"","createdAt":1}}"#;
        assert_eq!(
            normalize(bad_id),
            Err(PayloadError::Invalid("alert.alertId"))
        );
        let no_time = br#"{"action":"Close","alert":{"alertId":"a1"}}"#;
        assert_eq!(
            normalize(no_time),
            Err(PayloadError::Missing("alert.updatedAt"))
        );
        let bad_time = br#"{"action":"Close","alert":{"alertId":"a1","updatedAt":-1}}"#;
        assert_eq!(
            normalize(bad_time),
            Err(PayloadError::Invalid("alert.updatedAt"))
        );
    }
}
