//! The normalized incident model shared by every source adapter and by the store.
//!
//! Adapters turn provider payloads into [`IncidentEvent`]s; the pure state machine in
//! [`super::state`] folds events into an [`Incident`]; the store persists the result.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::keyspace::{IncidentId, InvalidIncidentId, Source, UnknownSource};

/// Lifecycle of an incident as breakglass sees it. PagerDuty's `triggered`, Opsgenie's open alert,
/// OnCall's `firing` and Grafana Incident's `active` all map to `Open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }
}

/// A person as an incident tool names them. `id` is the tool's own stable id; the other fields
/// help match the person against the `[[responders]]` directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolUser {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ToolUser {
    pub fn by_id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
}

/// Why someone counts as a responder. A person may hold several reasons; they stop being a
/// responder when the last one goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Assigned by the tool (PagerDuty assignees, Grafana Incident role assignments).
    Assignee,
    /// Acknowledged the incident.
    Acknowledger,
    /// Owns the alert (Opsgenie).
    Owner,
    /// Explicitly added as a responder or recipient.
    Responder,
    /// Notified or about to be notified by the tool's escalation (Grafana OnCall).
    Notified,
}

/// A change to the set of people holding one [`Reason`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op", content = "users")]
pub enum PeopleChange {
    /// The event carries the complete set for this reason (a reassignment): it replaces the old one.
    Replace(Vec<ToolUser>),
    /// The event adds people.
    Add(Vec<ToolUser>),
    /// The event removes people (matched by tool id).
    Remove(Vec<ToolUser>),
}

/// How an event may move the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The event creates the incident, or explicitly reopens it: it may move a resolved incident
    /// back to open.
    Opens,
    /// Any other event: it may never move a resolved incident back to open.
    Updates,
}

/// One normalized event from an incident tool, the only thing adapters hand to the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub incident: IncidentId,
    /// The provider's own name for what happened (`incident.acknowledged`, `Close`, ...).
    pub kind: String,
    /// When the provider says the event happened; orders out-of-order deliveries.
    pub occurred_at: DateTime<Utc>,
    /// The provider sent no event time and `occurred_at` is when breakglass received it. Such an
    /// event is applied in arrival order: it is never stale and never advances the incident's
    /// clock, since a receipt time cannot be compared with the provider's own times.
    #[serde(default)]
    pub time_is_receipt: bool,
    /// Keys that identify this delivery; any one already seen makes it a duplicate.
    pub dedupe_keys: Vec<String>,
    pub transition: Transition,
    pub status: Option<Status>,
    pub title: Option<String>,
    pub service: Option<String>,
    pub teams: Option<Vec<String>>,
    pub priority: Option<String>,
    pub link: Option<String>,
    /// The incident's own start and end, where the tool states them.
    pub opened_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub people: Vec<(Reason, PeopleChange)>,
}

impl IncidentEvent {
    /// An event that carries nothing yet; adapters fill in what their payload has.
    pub fn new(
        incident: IncidentId,
        kind: impl Into<String>,
        occurred_at: DateTime<Utc>,
        transition: Transition,
    ) -> Self {
        Self {
            incident,
            kind: kind.into(),
            occurred_at,
            time_is_receipt: false,
            dedupe_keys: Vec::new(),
            transition,
            status: None,
            title: None,
            service: None,
            teams: None,
            priority: None,
            link: None,
            opened_at: None,
            resolved_at: None,
            people: Vec::new(),
        }
    }
}

/// A responder on an incident. `email` is set only when the `[[responders]]` directory knows the
/// person: an email in a payload is never trusted as identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responder {
    pub tool_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reasons: BTreeSet<Reason>,
}

/// The durable picture of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub source: Source,
    pub status: Status,
    pub title: Option<String>,
    pub service: Option<String>,
    pub teams: Vec<String>,
    pub priority: Option<String>,
    pub link: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Provider time of the newest event applied; older events never move the incident back.
    pub last_event_at: DateTime<Utc>,
    /// When breakglass last changed this record.
    pub updated_at: DateTime<Utc>,
    pub responders: Vec<Responder>,
    /// Emails (or tool ids) of people who were responders once; they may still read the incident.
    #[serde(default)]
    pub former_responders: BTreeSet<String>,
}

impl Incident {
    /// Whether `email` is a current responder.
    pub fn is_responder(&self, email: &str) -> bool {
        self.responders.iter().any(|r| {
            r.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    }

    /// Whether `email` is or was a responder.
    pub fn is_or_was_responder(&self, email: &str) -> bool {
        self.is_responder(email)
            || self
                .former_responders
                .iter()
                .any(|e| e.eq_ignore_ascii_case(email))
    }
}
