//! The audit events an incident's webhooks write, in the same atomic step as the change they
//! record (see [`super::store`]); the review reads them back through these same types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IncidentId, Source, Status};
use crate::audit::Payload;

/// `webhook.applied`: a webhook event changed (or was checked against) an incident's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookApplied {
    pub incident: IncidentId,
    pub source: Source,
    /// The provider's event name.
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub request_id: String,
    pub status_before: Option<Status>,
    pub status_after: Status,
    /// Older than the newest applied event: it could only fill in empty fields.
    pub stale: bool,
    /// The responders after the event: emails where known, else tool ids.
    pub responders: Vec<String>,
    pub removed_responders: Vec<String>,
    pub dedupe_keys: Vec<String>,
}

impl Payload for WebhookApplied {
    const KIND: &'static str = "webhook.applied";
}

/// `incident.status_changed`: the incident moved between open, acknowledged and resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanged {
    /// `None` for a new incident.
    pub from: Option<Status>,
    pub to: Status,
    /// The provider's event name that moved it.
    pub kind: String,
    /// When the provider says it happened (the review's lifecycle uses these times).
    pub occurred_at: DateTime<Utc>,
}

impl Payload for StatusChanged {
    const KIND: &'static str = "incident.status_changed";
}

/// `incident.responders_changed`: people put on or taken off the incident (emails where known,
/// else tool ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RespondersChanged {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
}

impl Payload for RespondersChanged {
    const KIND: &'static str = "incident.responders_changed";
}
