//! Grafana OnCall outgoing webhooks (`{"event": {"type", "time"}, "alert_group": {...}, ...}`)
//! to incident events. The incident is the alert group, `grafana-oncall:<alert_group.id>`.
//!
//! Every body restates the alert group (title, integration, labels, permalink, start) and the
//! people OnCall is paging: `notified_users` and `users_to_be_notified` together replace the
//! [`Reason::Notified`] set whenever either list is present. The acknowledger comes from
//! `alert_group_acknowledged_by`, else the acting `user`. Teams are the integration's team;
//! priority is a `severity` or `priority` label when the alert group has one, never invented.
//!
//! Event types are OnCall's trigger labels (`alert group created`, `acknowledge`, `resolve`,
//! `unresolve`, ...; older releases said `firing`), compared with spaces read as underscores.
//! `silence`, `unsilence`, `escalation`, `status change` and `personal notification` only
//! restate metadata and people. Types this module does not know are ignored.
//!
//! Ordering uses `event.time`. OnCall sends it only for create, acknowledge, resolve and silence
//! (it is the alert group's own timestamp for that change); `unresolve`, `unacknowledge`,
//! `unsilence` and `escalation` carry none, so for those the time breakglass received the
//! delivery stands in: the caller passes it to [`normalize_at`], and the event is marked
//! `time_is_receipt` so the state machine neither orders it against provider times nor lets it
//! move the incident's clock. Such an event follows the alert group's `state` in its body rather
//! than its type: OnCall builds the body when it sends it and rebuilds it on every retry, so the
//! state is current, and a retried `unresolve` that arrives after a newer `resolve` says
//! `resolved` and cannot reopen anything. The de-duplication key is
//! `grafana-oncall:<alert group>:<type>:<time>` and never a body hash, because OnCall rebuilds
//! the body on retry; for the time-less types a retry counts as a new delivery, which the
//! snapshot rule makes harmless.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::payload::{decode, rfc3339, text};
use super::{Normalized, PayloadError};
use crate::incidents::{
    IncidentEvent, IncidentId, PeopleChange, Reason, Source, Status, ToolUser, Transition,
};

#[derive(Deserialize)]
struct Envelope {
    event: Option<Head>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    time: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    user: Option<User>,
    alert_group: Option<AlertGroup>,
    alert_group_id: Option<String>,
    integration: Option<Integration>,
    notified_users: Option<Vec<User>>,
    users_to_be_notified: Option<Vec<User>>,
    alert_group_acknowledged_by: Option<User>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AlertGroup {
    id: Option<String>,
    title: Option<String>,
    created_at: Option<String>,
    resolved_at: Option<String>,
    /// `firing`, `acknowledged`, `resolved` or `silenced`, as of when OnCall built the body.
    state: Option<String>,
    /// A map of label names to values; read leniently, since only two keys matter.
    labels: Option<Value>,
    permalinks: Option<Permalinks>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Permalinks {
    web: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Integration {
    name: Option<String>,
    team: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct User {
    id: Option<String>,
    username: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

impl User {
    fn tool_user(&self) -> Option<ToolUser> {
        Some(ToolUser {
            id: text(self.id.as_deref())?,
            username: text(self.username.as_deref()),
            email: text(self.email.as_deref()),
            name: text(self.name.as_deref()),
        })
    }
}

/// What an event type means for the alert group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Acknowledged,
    Unacknowledged,
    Resolved,
    Unresolved,
    Restated,
}

fn change(kind: &str) -> Option<Change> {
    Some(
        match kind.trim().to_ascii_lowercase().replace(' ', "_").as_str() {
            "alert_group_created" | "firing" => Change::Created,
            "acknowledge" => Change::Acknowledged,
            "unacknowledge" => Change::Unacknowledged,
            "resolve" => Change::Resolved,
            "unresolve" => Change::Unresolved,
            "silence" | "unsilence" | "escalation" | "status_change" | "personal_notification" => {
                Change::Restated
            }
            _ => return None,
        },
    )
}

/// The status an alert group's `state` field names.
fn snapshot_status(state: &str) -> Option<Status> {
    match state.to_ascii_lowercase().as_str() {
        "firing" | "silenced" => Some(Status::Open),
        "acknowledged" => Some(Status::Acknowledged),
        "resolved" => Some(Status::Resolved),
        _ => None,
    }
}

/// Normalize one OnCall webhook body; `received_at` stands in for the event time of the types
/// OnCall sends without one.
pub fn normalize_at(body: &[u8], received_at: DateTime<Utc>) -> Result<Normalized, PayloadError> {
    let head = decode::<Envelope>(body)?
        .event
        .ok_or(PayloadError::Missing("event"))?;
    let kind = head.kind.ok_or(PayloadError::Missing("event.type"))?;
    let Some(change) = change(&kind) else {
        return Ok(Normalized::Ignored { kind });
    };
    let body = decode::<Body>(body)?;
    let group = body.alert_group.unwrap_or_default();
    let native = group
        .id
        .as_deref()
        .or(body.alert_group_id.as_deref())
        .ok_or(PayloadError::Missing("alert_group.id"))?;
    let incident = IncidentId::new(Source::GrafanaOncall, native)
        .map_err(|_| PayloadError::Invalid("alert_group.id"))?;
    let (occurred_at, time) = match head.time.as_deref() {
        Some(raw) => {
            let parsed = rfc3339(raw).filter(|_| raw.len() <= 64);
            (
                parsed.ok_or(PayloadError::Invalid("event.time"))?,
                raw.to_owned(),
            )
        }
        None => (
            received_at,
            received_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        ),
    };
    // A time-less event cannot be ordered against the others, but its body is built when it is
    // sent (and rebuilt on every retry), so the alert group's `state` in it is current: follow
    // that state rather than the event type, and a late retry cannot undo a newer change.
    let snapshot = match head.time {
        Some(_) => None,
        None => group.state.as_deref().and_then(snapshot_status),
    };
    let change = match (change, snapshot) {
        (Change::Unresolved, Some(Status::Open)) => Change::Unresolved,
        (_, Some(Status::Open)) => Change::Unacknowledged,
        (_, Some(Status::Acknowledged)) => Change::Acknowledged,
        (_, Some(Status::Resolved)) => Change::Resolved,
        (change, None) => change,
    };

    let transition = match change {
        Change::Created | Change::Unresolved => Transition::Opens,
        _ => Transition::Updates,
    };
    let mut out = IncidentEvent::new(incident, kind.as_str(), occurred_at, transition);
    out.time_is_receipt = head.time.is_none();
    out.dedupe_keys
        .push(format!("grafana-oncall:{native}:{kind}:{time}"));
    out.title = text(group.title.as_deref());
    let integration = body.integration.unwrap_or_default();
    out.service = text(integration.name.as_deref());
    out.teams = text(integration.team.as_deref()).map(|team| vec![team]);
    out.priority = ["severity", "priority"].iter().find_map(|key| {
        let labels = group.labels.as_ref()?;
        text(labels.get(*key)?.as_str())
    });
    out.link = text(group.permalinks.and_then(|p| p.web).as_deref());
    out.opened_at = group.created_at.as_deref().and_then(rfc3339);

    match change {
        Change::Created | Change::Unresolved => out.status = Some(Status::Open),
        Change::Acknowledged => {
            out.status = Some(Status::Acknowledged);
            let by = body.alert_group_acknowledged_by.or(body.user);
            if let Some(user) = by.as_ref().and_then(User::tool_user) {
                let change = PeopleChange::Replace(vec![user]);
                out.people.push((Reason::Acknowledger, change));
            }
        }
        Change::Unacknowledged => {
            out.status = Some(Status::Open);
            let change = PeopleChange::Replace(vec![]);
            out.people.push((Reason::Acknowledger, change));
        }
        Change::Resolved => {
            out.status = Some(Status::Resolved);
            let resolved_at = group.resolved_at.as_deref().and_then(rfc3339);
            out.resolved_at = Some(resolved_at.unwrap_or(occurred_at));
        }
        Change::Restated => {}
    }
    if body.notified_users.is_some() || body.users_to_be_notified.is_some() {
        let mut paged: Vec<ToolUser> = Vec::new();
        let listed = body.notified_users.iter().chain(&body.users_to_be_notified);
        for user in listed.flatten().filter_map(User::tool_user) {
            if !paged.iter().any(|p| p.id == user.id) {
                paged.push(user);
            }
        }
        out.people
            .push((Reason::Notified, PeopleChange::Replace(paged)));
    }
    Ok(Normalized::Events(vec![out]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support::{check, single};
    use serde_json::json;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/fixtures/grafana-oncall/", $name)).as_slice()
        };
    }

    /// When the tests pretend the time-less deliveries arrived.
    fn received() -> DateTime<Utc> {
        rfc3339("2023-04-19T22:05:00Z").expect("test timestamp")
    }

    fn run(body: &[u8]) -> IncidentEvent {
        single(normalize_at(body, received()))
    }

    #[test]
    fn every_fixture_maps_to_its_event() {
        let group = "grafana-oncall:I6HNZGUFG4K11";
        let admin = json!({"id": "UVMX6YI9VY9PV", "username": "admin", "email": "admin@localhost"});
        let base = json!({"incident": group, "transition": "updates", "title": "Incident",
            "service": "Main Integration - Webhook", "teams": ["Webhooks Demo"],
            "link": "https://**********.grafana.net/a/grafana-oncall-app/alert-groups/I6HNZGUFG4K11",
            "opened_at": "2023-04-19T21:53:48.231148Z"});

        check! { "alert_group_created.RECONSTRUCTED.json", base, {
        "kind": "alert group created", "transition": "opens", "status": "open",
        "occurred_at": "2023-04-19T21:53:48.231148Z",
        "dedupe_keys": [format!("{group}:alert group created:2023-04-19T21:53:48.231148+00:00")],
        "people": [["notified", {"op": "replace", "users": [admin]}]]} }
        check! { "acknowledge.RECONSTRUCTED.json", base, {
        "kind": "acknowledge", "status": "acknowledged", "occurred_at": "2023-04-19T21:54:39.029347Z",
        "dedupe_keys": [format!("{group}:acknowledge:2023-04-19T21:54:39.029347+00:00")],
        "people": [["acknowledger", {"op": "replace", "users": [admin]}],
                   ["notified", {"op": "replace", "users": [admin]}]]} }
        check! { "resolve.docs-sample.json", base, {
        "kind": "resolve", "status": "resolved", "occurred_at": "2023-04-19T21:59:21.714058Z",
        "resolved_at": "2023-04-19T21:59:21.714058Z",
        "dedupe_keys": [format!("{group}:resolve:2023-04-19T21:59:21.714058+00:00")],
        "people": [["notified", {"op": "replace", "users": []}]]} }
        // OnCall sends `unresolve` without `event.time`: the receipt time orders it.
        check! { "unresolve.RECONSTRUCTED.json", base, {
        "kind": "unresolve", "transition": "opens", "status": "open",
        "occurred_at": "2023-04-19T22:05:00Z", "time_is_receipt": true,
        "dedupe_keys": [format!("{group}:unresolve:2023-04-19T22:05:00.000000Z")],
        "people": [["notified", {"op": "replace", "users": [admin]}]]} }
    }

    #[test]
    fn a_timeless_event_follows_the_alert_group_state_in_its_body() {
        // A retried unresolve, rebuilt after the group was resolved again: it must not reopen.
        let retried = String::from_utf8_lossy(fixture!("unresolve.RECONSTRUCTED.json"))
            .replace("\"state\": \"firing\"", "\"state\": \"resolved\"");
        let event = run(retried.as_bytes());
        assert!(event.time_is_receipt);
        assert_eq!(event.status, Some(Status::Resolved));
        assert_eq!(event.transition, Transition::Updates);
        // An unacknowledge whose body says someone acknowledged since keeps them.
        let acked = String::from_utf8_lossy(fixture!("unresolve.RECONSTRUCTED.json"))
            .replace("\"type\": \"unresolve\"", "\"type\": \"unacknowledge\"")
            .replace("\"state\": \"firing\"", "\"state\": \"acknowledged\"");
        let event = run(acked.as_bytes());
        assert_eq!(event.status, Some(Status::Acknowledged));
        assert_eq!(event.transition, Transition::Updates);
    }

    #[test]
    fn older_labels_ids_and_severity_are_understood() {
        let body = br#"{"event":{"type":"firing","time":"2023-01-01T00:00:00Z"},
            "alert_group_id":"G1","alert_group":{"labels":{"severity":"critical"}}}"#;
        let event = run(body);
        assert_eq!(event.incident.to_string(), "grafana-oncall:G1");
        assert_eq!(
            (event.transition, event.status),
            (Transition::Opens, Some(Status::Open))
        );
        assert_eq!(event.priority.as_deref(), Some("critical"));
        assert!(event.people.is_empty());
    }

    #[test]
    fn unacknowledge_clears_acknowledgers_and_silence_only_restates() {
        let body = br#"{"event":{"type":"unacknowledge"},"alert_group":{"id":"G1"}}"#;
        let event = run(body);
        assert_eq!(event.status, Some(Status::Open));
        let cleared = (Reason::Acknowledger, PeopleChange::Replace(vec![]));
        assert_eq!(event.people, [cleared]);
        let body = br#"{"event":{"type":"silence","time":"2023-01-01T00:00:00Z"},
            "alert_group":{"id":"G1","title":"Disk full"}}"#;
        let event = run(body);
        assert_eq!(
            (event.transition, event.status),
            (Transition::Updates, None)
        );
        assert_eq!(event.title.as_deref(), Some("Disk full"));
    }

    #[test]
    fn unknown_types_are_ignored_and_bad_bodies_rejected() {
        let at = received();
        let kind = "something else".to_owned();
        let unknown = br#"{"event":{"type":"something else"},"alert_group":7}"#;
        assert_eq!(normalize_at(unknown, at), Ok(Normalized::Ignored { kind }));
        assert!(matches!(
            normalize_at(b"{\"event\"", at),
            Err(PayloadError::Json(_))
        ));
        assert!(matches!(
            normalize_at(b"null", at),
            Err(PayloadError::Json(_))
        ));
        assert_eq!(normalize_at(b"{}", at), Err(PayloadError::Missing("event")));
        let no_id = br#"{"event":{"type":"resolve"},"alert_group":{"title":"x"}}"#;
        assert_eq!(
            normalize_at(no_id, at),
            Err(PayloadError::Missing("alert_group.id"))
        );
        let bad_id = br#"{"event":{"type":"resolve"},"alert_group":{"id":"a b"}}"#;
        assert_eq!(
            normalize_at(bad_id, at),
            Err(PayloadError::Invalid("alert_group.id"))
        );
        let bad_time = br#"{"event":{"type":"resolve","time":"now"},"alert_group":{"id":"G"}}"#;
        assert_eq!(
            normalize_at(bad_time, at),
            Err(PayloadError::Invalid("event.time"))
        );
    }
}
