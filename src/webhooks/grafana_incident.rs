//! Grafana Incident outgoing webhooks (`{"id", "time", "event", "incident": {...}}`) to incident
//! events. The incident is `grafana-incident:<incident.incidentID>`.
//!
//! Every body carries the whole incident, so every event restates its status, title, severity
//! (as the priority, `pending` included: it is what the incident says), labels and role holders.
//! The service is the `service` (or `service_name`) label and the teams are the `team` labels,
//! by their display text; the labels list is complete, so teams are replaced even when empty.
//! The link is `overviewURL` as given (Grafana sends a path relative to the Grafana instance).
//!
//! Role holders are a full snapshot: the legacy `incident.roles[]` and the newer
//! `incident.incidentMembership.assignments[]` together replace the [`Reason::Assignee`] set.
//! Observers only watch, so they are left out unless the source is configured to count them.
//!
//! `grafana.incident.created` opens the incident, and so does a status update to `active`: the
//! only way an incident goes back to active after it was resolved. Any other `grafana.incident.*`
//! event updates; events outside that namespace are ignored. Ordering uses the incident's
//! `modifiedTime` (the top-level `time` has only second precision); the delivery id `id` is the
//! de-duplication key.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::payload::{decode, rfc3339, text};
use super::{NormalizeOptions, Normalized, PayloadError};
use crate::incidents::{
    IncidentEvent, IncidentId, PeopleChange, Reason, Source, Status, ToolUser, Transition,
};

const NAMESPACE: &str = "grafana.incident.";

#[derive(Deserialize)]
struct Envelope {
    event: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    id: Option<String>,
    time: Option<String>,
    incident: Option<Incident>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Incident {
    #[serde(rename = "incidentID")]
    incident_id: Option<String>,
    title: Option<String>,
    status: Option<String>,
    severity: Option<String>,
    labels: Option<Vec<Label>>,
    #[serde(rename = "overviewURL")]
    overview_url: Option<String>,
    created_time: Option<String>,
    modified_time: Option<String>,
    closed_time: Option<String>,
    incident_start: Option<String>,
    incident_end: Option<String>,
    roles: Option<Vec<LegacyRole>>,
    incident_membership: Option<Membership>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Label {
    key: Option<String>,
    label: Option<String>,
}

/// `roles[]` in older payloads: `{"role": "commander", "user": {...}}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LegacyRole {
    role: Option<String>,
    user: Option<User>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Membership {
    assignments: Option<Vec<Assignment>>,
}

/// `incidentMembership.assignments[]`: `{"user": {...}, "role": {"name": "commander"}}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Assignment {
    user: Option<User>,
    role: Option<Role>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Role {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct User {
    #[serde(rename = "userID")]
    user_id: Option<String>,
    name: Option<String>,
}

/// Normalize one Grafana Incident webhook body.
pub fn normalize(body: &[u8], options: &NormalizeOptions) -> Result<Normalized, PayloadError> {
    let kind = decode::<Envelope>(body)?
        .event
        .ok_or(PayloadError::Missing("event"))?;
    if !kind.starts_with(NAMESPACE) {
        return Ok(Normalized::Ignored { kind });
    }
    let body = decode::<Body>(body)?;
    let incident = body.incident.ok_or(PayloadError::Missing("incident"))?;
    let native = incident
        .incident_id
        .as_deref()
        .ok_or(PayloadError::Missing("incident.incidentID"))?;
    let id = IncidentId::new(Source::GrafanaIncident, native)
        .map_err(|_| PayloadError::Invalid("incident.incidentID"))?;
    let delivery = body.id.ok_or(PayloadError::Missing("id"))?;
    if delivery.is_empty()
        || delivery.len() > 200
        || !delivery.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(PayloadError::Invalid("id"));
    }
    let occurred_at = match (time(&incident.modified_time), body.time.as_deref()) {
        (Some(modified), _) => modified,
        (None, Some(sent)) => rfc3339(sent).ok_or(PayloadError::Invalid("time"))?,
        (None, None) => return Err(PayloadError::Missing("time")),
    };

    let status = match incident.status.as_deref() {
        Some("active") => Some(Status::Open),
        Some("resolved") => Some(Status::Resolved),
        _ => None,
    };
    let reopens = kind == "grafana.incident.updated.status" && status == Some(Status::Open);
    let transition = if kind == "grafana.incident.created" || reopens {
        Transition::Opens
    } else {
        Transition::Updates
    };
    let mut out = IncidentEvent::new(id, kind.as_str(), occurred_at, transition);
    out.dedupe_keys.push(format!("grafana-incident:{delivery}"));
    out.status = status;
    out.title = text(incident.title.as_deref());
    out.priority = text(incident.severity.as_deref());
    out.link = text(incident.overview_url.as_deref());
    out.opened_at = time(&incident.incident_start).or(time(&incident.created_time));
    out.resolved_at = time(&incident.incident_end).or(time(&incident.closed_time));
    if let Some(labels) = &incident.labels {
        out.service = labelled(labels, &["service", "service_name"]).next();
        out.teams = Some(labelled(labels, &["team"]).collect());
    }

    let assignments = incident.incident_membership.and_then(|m| m.assignments);
    if let Some(holders) = role_holders(incident.roles, assignments, options) {
        out.people
            .push((Reason::Assignee, PeopleChange::Replace(holders)));
    }
    Ok(Normalized::Events(vec![out]))
}

/// Everyone holding a role (observers only if configured), or None when the payload lists no
/// roles at all, in which case the stored assignees stay as they are.
fn role_holders(
    legacy: Option<Vec<LegacyRole>>,
    assignments: Option<Vec<Assignment>>,
    options: &NormalizeOptions,
) -> Option<Vec<ToolUser>> {
    if legacy.is_none() && assignments.is_none() {
        return None;
    }
    let legacy = legacy.into_iter().flatten().map(|r| (r.role, r.user));
    let current = assignments
        .into_iter()
        .flatten()
        .map(|a| (a.role.and_then(|r| r.name), a.user));
    let mut holders: Vec<ToolUser> = Vec::new();
    for (role, user) in legacy.chain(current) {
        let observer = role.is_some_and(|r| r.eq_ignore_ascii_case("observer"));
        if observer && !options.observers_are_responders {
            continue;
        }
        let Some(user) = user.as_ref().and_then(tool_user) else {
            continue;
        };
        if !holders.iter().any(|h| h.id == user.id) {
            holders.push(user);
        }
    }
    Some(holders)
}

/// The display text of the labels whose key is one of `keys`.
fn labelled<'a>(labels: &'a [Label], keys: &'a [&str]) -> impl Iterator<Item = String> + 'a {
    labels
        .iter()
        .filter(|l| {
            let key = l.key.as_deref().unwrap_or_default();
            keys.iter().any(|k| key.eq_ignore_ascii_case(k))
        })
        .filter_map(|l| text(l.label.as_deref()))
}

fn tool_user(user: &User) -> Option<ToolUser> {
    Some(ToolUser {
        id: text(user.user_id.as_deref())?,
        name: text(user.name.as_deref()),
        ..ToolUser::default()
    })
}

/// A timestamp field; Grafana sends `""` for times that have not happened yet.
fn time(value: &Option<String>) -> Option<DateTime<Utc>> {
    value.as_deref().and_then(rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support::{check, single};
    use serde_json::json;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/fixtures/grafana-incident/", $name)).as_slice()
        };
    }

    fn run_with(body: &[u8], options: &NormalizeOptions) -> IncidentEvent {
        single(normalize(body, options))
    }

    fn run(body: &[u8]) -> IncidentEvent {
        run_with(body, &NormalizeOptions::default())
    }

    fn paul() -> ToolUser {
        ToolUser {
            name: Some("paulcoghlan".into()),
            ..ToolUser::by_id("grafana-incident:user-637c92ccd784a2ee")
        }
    }

    #[test]
    fn every_fixture_maps_to_its_event() {
        let commander = json!([["assignee", {"op": "replace", "users": [paul()]}]]);
        let base = json!({"incident": "grafana-incident:19", "transition": "updates",
            "status": "open", "title": "1111", "teams": [], "priority": "pending",
            "link": "/a/grafana-incident-app/incidents/19/1111",
            "opened_at": "2023-03-09T11:09:44.293367Z"});
        let role_updated = json!({
            "kind": "grafana.incident.updated.role", "occurred_at": "2023-03-09T11:09:45.602445Z",
            "dedupe_keys": ["grafana-incident:webhook-out-6409be79a7ee628da2a70dbe"],
            "people": [["assignee", {"op": "replace", "users": []}]]});

        check! { "grafana.incident.created.RECONSTRUCTED.json", base, {
        "kind": "grafana.incident.created", "transition": "opens",
        "occurred_at": "2023-03-09T11:09:44.293367Z",
        "dedupe_keys": ["grafana-incident:webhook-out-6409be78a7ee628da2a70dbd"],
        "service": "checkout", "people": commander} }
        // The only role holder is an observer, who does not count by default.
        check! { "grafana.incident.updated.role.json", base, role_updated }
        check! { "signature-vector.grafana.incident.updated.role.body.json", base, role_updated }
        check! { "grafana.incident.updated.status-resolved.RECONSTRUCTED.json", base, {
        "kind": "grafana.incident.updated.status", "status": "resolved",
        "occurred_at": "2023-03-09T11:24:50.101010Z", "resolved_at": "2023-03-09T11:24:50.101010Z",
        "dedupe_keys": ["grafana-incident:webhook-out-6409c1f2a7ee628da2a70e11"],
        "service": "checkout", "priority": "minor", "people": commander} }
    }

    #[test]
    fn observers_count_when_configured() {
        let options = NormalizeOptions {
            observers_are_responders: true,
        };
        let event = run_with(fixture!("grafana.incident.updated.role.json"), &options);
        let holders = PeopleChange::Replace(vec![paul()]);
        assert_eq!(event.people, [(Reason::Assignee, holders)]);
    }

    #[test]
    fn a_status_update_back_to_active_reopens() {
        let resolved = fixture!("grafana.incident.updated.status-resolved.RECONSTRUCTED.json");
        let body = String::from_utf8_lossy(resolved).replace(r#""resolved""#, r#""active""#);
        let event = run(body.as_bytes());
        assert_eq!(
            (event.transition, event.status),
            (Transition::Opens, Some(Status::Open))
        );
    }

    #[test]
    fn team_labels_and_the_top_level_time_are_used() {
        let body =
            br#"{"id":"d1","time":"2024-05-01T10:00:00Z","event":"grafana.incident.updated.labels",
            "incident":{"incidentID":"7","modifiedTime":"","labels":[{"key":"team","label":"db"},
            {"key":"Team","label":"payments"},{"key":"service","label":"ledger"}]}}"#;
        let event = run(body);
        assert_eq!(event.occurred_at.to_rfc3339(), "2024-05-01T10:00:00+00:00");
        assert_eq!(event.teams, Some(vec!["db".into(), "payments".into()]));
        assert_eq!(event.service.as_deref(), Some("ledger"));
        assert_eq!(
            (event.transition, event.status),
            (Transition::Updates, None)
        );
    }

    #[test]
    fn other_events_are_ignored_and_bad_bodies_rejected() {
        let options = NormalizeOptions::default();
        let result = |body: &[u8]| normalize(body, &options);
        let kind = "grafana.alerting.fired".to_owned();
        let other = br#"{"id":"d1","event":"grafana.alerting.fired","incident":[1]}"#;
        assert_eq!(result(other), Ok(Normalized::Ignored { kind }));
        assert!(matches!(
            result(b"{\"event\":}"),
            Err(PayloadError::Json(_))
        ));
        assert!(matches!(result(b"[]"), Err(PayloadError::Json(_))));
        assert_eq!(result(b"{}"), Err(PayloadError::Missing("event")));
        let no_id = br#"{"id":"d1","event":"grafana.incident.created","incident":{"title":"x"}}"#;
        assert_eq!(
            result(no_id),
            Err(PayloadError::Missing("incident.incidentID"))
        );
        let bad_id =
            br#"{"id":"d1","event":"grafana.incident.created","incident":{"incidentID":""}}"#;
        assert_eq!(
            result(bad_id),
            Err(PayloadError::Invalid("incident.incidentID"))
        );
        let no_time =
            br#"{"id":"d1","event":"grafana.incident.created","incident":{"incidentID":"1"}}"#;
        assert_eq!(result(no_time), Err(PayloadError::Missing("time")));
    }
}
