use super::*;
use crate::webhooks::test_support::{check, single};
use serde_json::json;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/opsgenie/", $name)).as_slice()
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
