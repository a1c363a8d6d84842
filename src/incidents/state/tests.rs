use chrono::{Duration, TimeZone};

use super::*;
use crate::incidents::{IncidentId, Source};

struct Dir;
impl Directory for Dir {
    fn email_for(&self, _source: Source, user: &ToolUser) -> Option<String> {
        match user.id.as_str() {
            "PALICE" => Some("alice@example.com".into()),
            "PBOB" => Some("bob@example.com".into()),
            "PCAROL" => Some("Carol@Example.com".into()),
            _ => None,
        }
    }
}

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::minutes(minute)
}

fn event(minute: i64, kind: &str, transition: Transition, status: Option<Status>) -> IncidentEvent {
    let mut e = IncidentEvent::new(
        IncidentId::new(Source::Pagerduty, "P1").unwrap(),
        kind,
        t(minute),
        transition,
    );
    e.status = status;
    e
}

fn assignees(ids: &[&str]) -> (Reason, PeopleChange) {
    (
        Reason::Assignee,
        PeopleChange::Replace(ids.iter().map(|id| ToolUser::by_id(*id)).collect()),
    )
}

fn step(current: Option<&Incident>, e: &IncidentEvent) -> Applied {
    apply(current, e, &Dir, t(100))
}

fn triggered() -> Incident {
    let mut e = event(
        0,
        "incident.triggered",
        Transition::Opens,
        Some(Status::Open),
    );
    e.title = Some("Checkout down".into());
    e.people.push(assignees(&["PALICE"]));
    step(None, &e).incident
}

#[test]
fn a_new_incident_maps_known_people_to_their_email_and_keeps_others_by_tool_id() {
    let mut e = event(
        0,
        "incident.triggered",
        Transition::Opens,
        Some(Status::Open),
    );
    e.people.push(assignees(&["PALICE", "PSTRANGER"]));
    let inc = step(None, &e).incident;
    assert_eq!(inc.status, Status::Open);
    assert_eq!(inc.opened_at, t(0));
    assert!(inc.is_responder("alice@example.com"));
    let stranger = inc
        .responders
        .iter()
        .find(|r| r.tool_id == "PSTRANGER")
        .unwrap();
    assert_eq!(stranger.email, None);
}

#[test]
fn lifecycle_open_acknowledge_resolve_reopen() {
    let inc = triggered();
    let ack = step(
        Some(&inc),
        &event(1, "ack", Transition::Updates, Some(Status::Acknowledged)),
    );
    assert_eq!(ack.incident.status, Status::Acknowledged);
    assert_eq!(ack.incident.acknowledged_at, Some(t(1)));
    let res = step(
        Some(&ack.incident),
        &event(2, "resolve", Transition::Updates, Some(Status::Resolved)),
    );
    assert!(res.resolved_now());
    assert_eq!(res.incident.resolved_at, Some(t(2)));
    let reopened = step(
        Some(&res.incident),
        &event(3, "reopen", Transition::Opens, Some(Status::Open)),
    );
    assert_eq!(reopened.incident.status, Status::Open);
    assert_eq!(reopened.incident.resolved_at, None);
}

#[test]
fn a_late_acknowledgement_never_reopens_a_resolved_incident() {
    let inc = triggered();
    let res = step(
        Some(&inc),
        &event(2, "resolve", Transition::Updates, Some(Status::Resolved)),
    );
    let ack = step(
        Some(&res.incident),
        &event(3, "ack", Transition::Updates, Some(Status::Acknowledged)),
    );
    assert_eq!(ack.incident.status, Status::Resolved);
    assert!(!ack.resolved_now());
}

#[test]
fn an_older_event_never_moves_the_incident_backwards() {
    let inc = triggered();
    let res = step(
        Some(&inc),
        &event(5, "resolve", Transition::Updates, Some(Status::Resolved)),
    );
    // The trigger for minute 1 arrives after the resolve of minute 5, and claims Opens.
    let mut late = event(
        1,
        "incident.triggered",
        Transition::Opens,
        Some(Status::Open),
    );
    late.people.push(assignees(&["PBOB"]));
    late.service = Some("checkout".into());
    let out = step(Some(&res.incident), &late);
    assert!(out.stale);
    assert_eq!(out.incident.status, Status::Resolved);
    assert!(!out.incident.is_responder("bob@example.com"));
    // ...but it may fill in what was still unknown.
    assert_eq!(out.incident.service.as_deref(), Some("checkout"));
    assert_eq!(out.incident.title.as_deref(), Some("Checkout down"));
}

#[test]
fn a_reassignment_replaces_the_assignee_set() {
    let inc = triggered();
    let mut e = event(
        1,
        "incident.reassigned",
        Transition::Updates,
        Some(Status::Open),
    );
    e.people.push(assignees(&["PBOB"]));
    let out = step(Some(&inc), &e);
    assert!(out.incident.is_responder("bob@example.com"));
    assert!(!out.incident.is_responder("alice@example.com"));
    assert_eq!(
        out.removed_responders,
        vec!["alice@example.com".to_string()]
    );
    assert!(out.incident.is_or_was_responder("alice@example.com"));
}

#[test]
fn reassignment_keeps_people_who_hold_another_reason() {
    let inc = triggered();
    let mut e = event(1, "added", Transition::Updates, None);
    e.people.push((
        Reason::Responder,
        PeopleChange::Add(vec![ToolUser::by_id("PALICE")]),
    ));
    let inc = step(Some(&inc), &e).incident;
    let mut e = event(2, "incident.reassigned", Transition::Updates, None);
    e.people.push(assignees(&["PBOB"]));
    let out = step(Some(&inc), &e);
    assert!(out.incident.is_responder("alice@example.com"));
    assert!(out.removed_responders.is_empty());
}

#[test]
fn unacknowledging_clears_the_acknowledgers() {
    let inc = triggered();
    let mut e = event(1, "ack", Transition::Updates, Some(Status::Acknowledged));
    e.people.push((
        Reason::Acknowledger,
        PeopleChange::Add(vec![ToolUser::by_id("PBOB")]),
    ));
    let inc = step(Some(&inc), &e).incident;
    assert!(inc.is_responder("bob@example.com"));
    let out = step(
        Some(&inc),
        &event(2, "unack", Transition::Updates, Some(Status::Open)),
    );
    assert!(!out.incident.is_responder("bob@example.com"));
    assert!(out.incident.is_responder("alice@example.com"));
}

#[test]
fn removing_a_person_drops_only_that_reason() {
    let inc = triggered();
    let mut e = event(1, "responder.replied", Transition::Updates, None);
    e.people.push((
        Reason::Responder,
        PeopleChange::Remove(vec![ToolUser::by_id("PALICE")]),
    ));
    assert!(step(Some(&inc), &e)
        .incident
        .is_responder("alice@example.com"));
    let mut e = event(1, "unassigned", Transition::Updates, None);
    e.people.push((
        Reason::Assignee,
        PeopleChange::Remove(vec![ToolUser::by_id("PALICE")]),
    ));
    assert!(!step(Some(&inc), &e)
        .incident
        .is_responder("alice@example.com"));
}

#[test]
fn an_incident_first_seen_resolved_is_created_resolved() {
    let out = step(
        None,
        &event(4, "resolve", Transition::Updates, Some(Status::Resolved)),
    );
    assert_eq!(out.incident.status, Status::Resolved);
    assert_eq!(out.incident.resolved_at, Some(t(4)));
    assert!(out.resolved_now());
}

#[test]
fn an_event_dated_on_receipt_neither_ages_later_events_nor_is_stale() {
    let inc = triggered();
    let res = step(
        Some(&inc),
        &event(5, "resolve", Transition::Updates, Some(Status::Resolved)),
    );
    // Received "at minute 50", but the provider gave no time.
    let mut reopen = event(50, "unresolve", Transition::Opens, Some(Status::Open));
    reopen.time_is_receipt = true;
    let out = step(Some(&res.incident), &reopen);
    assert!(!out.stale);
    assert_eq!(out.incident.status, Status::Open);
    assert_eq!(out.incident.last_event_at, t(5));
    // A resolve the provider dated minute 10 still lands.
    let again = step(
        Some(&out.incident),
        &event(10, "resolve", Transition::Updates, Some(Status::Resolved)),
    );
    assert!(!again.stale);
    assert_eq!(again.incident.status, Status::Resolved);
}

#[test]
fn the_unassigned_are_the_known_people_removed_by_email_in_lowercase() {
    let mut e = event(
        0,
        "incident.triggered",
        Transition::Opens,
        Some(Status::Open),
    );
    e.people.push(assignees(&["PALICE", "PCAROL", "PSTRANGER"]));
    let inc = step(None, &e).incident;
    let mut e = event(1, "incident.reassigned", Transition::Updates, None);
    e.people.push(assignees(&["PBOB"]));
    let out = step(Some(&inc), &e);
    assert_eq!(out.removed_responders.len(), 3);
    // The stranger's tool id is no email: nobody's bindings end for it.
    assert_eq!(
        out.unassigned_emails(Some(&inc)),
        vec![
            "alice@example.com".to_string(),
            "carol@example.com".to_string()
        ]
    );
}

#[test]
fn nobody_is_unassigned_by_a_new_incident_a_stale_event_or_a_kept_reason() {
    let mut e = event(
        0,
        "incident.triggered",
        Transition::Opens,
        Some(Status::Open),
    );
    e.people.push(assignees(&["PALICE"]));
    let created = step(None, &e);
    assert!(created.unassigned_emails(None).is_empty());
    let inc = created.incident;

    let mut newer = event(5, "incident.acknowledged", Transition::Updates, None);
    newer.people.push((
        Reason::Responder,
        PeopleChange::Add(vec![ToolUser::by_id("PBOB")]),
    ));
    let inc = step(Some(&inc), &newer).incident;
    let mut stale = event(2, "incident.reassigned", Transition::Updates, None);
    stale.people.push(assignees(&["PBOB"]));
    let out = step(Some(&inc), &stale);
    assert!(out.stale);
    assert!(out.unassigned_emails(Some(&inc)).is_empty());

    // Alice also responds for another reason: reassigning away from her keeps her on.
    let mut added = event(6, "added", Transition::Updates, None);
    added.people.push((
        Reason::Responder,
        PeopleChange::Add(vec![ToolUser::by_id("PALICE")]),
    ));
    let inc = step(Some(&inc), &added).incident;
    let mut reassigned = event(7, "incident.reassigned", Transition::Updates, None);
    reassigned.people.push(assignees(&["PBOB"]));
    assert!(step(Some(&inc), &reassigned)
        .unassigned_emails(Some(&inc))
        .is_empty());
}
