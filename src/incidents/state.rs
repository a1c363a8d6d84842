//! The incident state machine: a pure function from (current state, event) to the next state.
//!
//! Deliveries repeat and arrive out of order. De-duplication happens in the store; this module
//! guarantees the rest:
//! - an event older than the newest one applied (a *stale* event) may only fill in fields that
//!   are still empty; it never changes the status or the responder set; an event the provider
//!   sent without a time is applied in arrival order and leaves the incident's clock alone;
//! - a resolved incident opens again only through an event that [`Transition::Opens`] it;
//! - a people change with [`PeopleChange::Replace`] replaces that reason's set (a reassignment);
//! - leaving `acknowledged` for `open` clears the acknowledgers.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::model::{
    Incident, IncidentEvent, PeopleChange, Reason, Responder, Status, ToolUser, Transition,
};

/// Maps a person as a tool names them to their email in the `[[responders]]` directory.
pub trait Directory: Sync {
    fn email_for(&self, source: super::Source, user: &ToolUser) -> Option<String>;
}

/// The result of applying one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub incident: Incident,
    /// The event was older than the newest applied one and changed at most empty fields.
    pub stale: bool,
    /// The status before the event, if the incident existed.
    pub previous_status: Option<Status>,
    /// People who stopped being responders with this event: their email where the directory knows
    /// them, else their tool id.
    pub removed_responders: Vec<String>,
}

impl Applied {
    /// True if this event moved the incident to `resolved`.
    pub fn resolved_now(&self) -> bool {
        self.incident.status == Status::Resolved && self.previous_status != Some(Status::Resolved)
    }

    /// The lowercased emails of the people this event took off the incident (`before` is the
    /// incident it was applied to): whose bindings `[revocation] revoke_on_unassign` ends. People
    /// the directory does not know are left out: they hold no bindings, and their tool ids must
    /// not be mistaken for someone's email.
    pub fn unassigned_emails(&self, before: Option<&Incident>) -> Vec<String> {
        let Some(before) = before else {
            return Vec::new();
        };
        let emails: BTreeSet<String> = before
            .responders
            .iter()
            .filter_map(|r| r.email.as_deref())
            .filter(|e| self.removed_responders.iter().any(|gone| gone == e))
            .map(str::to_ascii_lowercase)
            .collect();
        emails.into_iter().collect()
    }
}

/// Apply `event` to `current` (None if the incident is new). `now` stamps `updated_at`.
pub fn apply(
    current: Option<&Incident>,
    event: &IncidentEvent,
    directory: &dyn Directory,
    now: DateTime<Utc>,
) -> Applied {
    let Some(current) = current else {
        return Applied {
            incident: create(event, directory, now),
            stale: false,
            previous_status: None,
            removed_responders: Vec::new(),
        };
    };
    let mut next = current.clone();
    next.updated_at = now;
    let stale = !event.time_is_receipt && event.occurred_at < current.last_event_at;
    if stale {
        fill_missing(&mut next, event);
        return Applied {
            incident: next,
            stale,
            previous_status: Some(current.status),
            removed_responders: Vec::new(),
        };
    }
    overwrite_metadata(&mut next, event);
    if !event.time_is_receipt {
        next.last_event_at = event.occurred_at;
    }
    if let Some(target) = event.status {
        move_status(&mut next, target, event);
    }
    let before = emails(&next.responders);
    for (reason, change) in &event.people {
        apply_people(&mut next, *reason, change, directory);
    }
    let after = emails(&next.responders);
    let removed: Vec<String> = before.difference(&after).cloned().collect();
    retire(&mut next, &removed);
    Applied {
        incident: next,
        stale,
        previous_status: Some(current.status),
        removed_responders: removed,
    }
}

fn create(event: &IncidentEvent, directory: &dyn Directory, now: DateTime<Utc>) -> Incident {
    let status = event.status.unwrap_or(Status::Open);
    let mut incident = Incident {
        id: event.incident.clone(),
        source: event.incident.source(),
        status,
        title: None,
        service: None,
        teams: Vec::new(),
        priority: None,
        link: None,
        opened_at: event.opened_at.unwrap_or(event.occurred_at),
        acknowledged_at: (status == Status::Acknowledged).then_some(event.occurred_at),
        resolved_at: (status == Status::Resolved)
            .then(|| event.resolved_at.unwrap_or(event.occurred_at)),
        // A receipt time says nothing about the provider's clock: any timed event may follow.
        last_event_at: if event.time_is_receipt {
            DateTime::<Utc>::MIN_UTC
        } else {
            event.occurred_at
        },
        updated_at: now,
        responders: Vec::new(),
        former_responders: BTreeSet::new(),
    };
    overwrite_metadata(&mut incident, event);
    for (reason, change) in &event.people {
        apply_people(&mut incident, *reason, change, directory);
    }
    incident
}

fn overwrite_metadata(incident: &mut Incident, event: &IncidentEvent) {
    if let Some(title) = &event.title {
        incident.title = Some(title.clone());
    }
    if let Some(service) = &event.service {
        incident.service = Some(service.clone());
    }
    if let Some(teams) = &event.teams {
        incident.teams = teams.clone();
    }
    if let Some(priority) = &event.priority {
        incident.priority = Some(priority.clone());
    }
    if let Some(link) = &event.link {
        incident.link = Some(link.clone());
    }
    if let Some(opened_at) = event.opened_at {
        incident.opened_at = incident.opened_at.min(opened_at);
    }
}

/// A stale event may complete the record, never change it.
fn fill_missing(incident: &mut Incident, event: &IncidentEvent) {
    if incident.title.is_none() {
        incident.title = event.title.clone();
    }
    if incident.service.is_none() {
        incident.service = event.service.clone();
    }
    if incident.teams.is_empty() {
        incident.teams = event.teams.clone().unwrap_or_default();
    }
    if incident.priority.is_none() {
        incident.priority = event.priority.clone();
    }
    if incident.link.is_none() {
        incident.link = event.link.clone();
    }
    if let Some(opened_at) = event.opened_at {
        incident.opened_at = incident.opened_at.min(opened_at);
    }
}

fn move_status(incident: &mut Incident, target: Status, event: &IncidentEvent) {
    let from = incident.status;
    if from == Status::Resolved
        && target != Status::Resolved
        && event.transition != Transition::Opens
    {
        // Late acknowledgements and the like never reopen an incident.
        return;
    }
    if from == target {
        return;
    }
    incident.status = target;
    match target {
        Status::Open => {
            incident.resolved_at = None;
            incident.acknowledged_at = None;
            for r in &mut incident.responders {
                r.reasons.remove(&Reason::Acknowledger);
            }
            incident.responders.retain(|r| !r.reasons.is_empty());
        }
        Status::Acknowledged => {
            incident.resolved_at = None;
            incident.acknowledged_at = Some(event.occurred_at);
        }
        Status::Resolved => {
            incident.resolved_at = Some(event.resolved_at.unwrap_or(event.occurred_at));
        }
    }
}

fn apply_people(
    incident: &mut Incident,
    reason: Reason,
    change: &PeopleChange,
    directory: &dyn Directory,
) {
    let source = incident.source;
    match change {
        PeopleChange::Replace(users) => {
            for r in &mut incident.responders {
                r.reasons.remove(&reason);
            }
            for user in users {
                add(incident, user, reason, directory, source);
            }
        }
        PeopleChange::Add(users) => {
            for user in users {
                add(incident, user, reason, directory, source);
            }
        }
        PeopleChange::Remove(users) => {
            for r in &mut incident.responders {
                if users.iter().any(|u| u.id == r.tool_id) {
                    r.reasons.remove(&reason);
                }
            }
        }
    }
    incident.responders.retain(|r| !r.reasons.is_empty());
}

fn add(
    incident: &mut Incident,
    user: &ToolUser,
    reason: Reason,
    directory: &dyn Directory,
    source: super::Source,
) {
    if user.id.is_empty() {
        return;
    }
    if let Some(existing) = incident
        .responders
        .iter_mut()
        .find(|r| r.tool_id == user.id)
    {
        existing.reasons.insert(reason);
        return;
    }
    incident.responders.push(Responder {
        tool_id: user.id.clone(),
        email: directory.email_for(source, user),
        name: user.name.clone().or_else(|| user.username.clone()),
        reasons: BTreeSet::from([reason]),
    });
}

fn emails(responders: &[Responder]) -> BTreeSet<String> {
    responders
        .iter()
        .map(|r| r.email.clone().unwrap_or_else(|| r.tool_id.clone()))
        .collect()
}

/// Keep people who left the responder set readable to themselves.
fn retire(incident: &mut Incident, removed: &[String]) {
    incident.former_responders.extend(removed.iter().cloned());
}

#[cfg(test)]
mod tests;
