//! The audit trail: typed events appended to a per-shard Redis stream in the same atomic step
//! as the change they record.
//!
//! Keys (owned here):
//! - `<prefix>:{<shard>}:audit`: STREAM, no TTL, never trimmed. One entry per event, fields
//!   `type`, `incident`, `at` and `data` (the event as JSON). Written by the incident store's
//!   apply script (and, later, elevation and revocation).
//!
//! Chaining entries into a tamper-evident sequence and the review exports build on this stream.

pub mod export;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::incidents::{IncidentId, Status};

/// A webhook event that changed (or was checked against) an incident's state.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookApplied<'a> {
    pub incident: &'a IncidentId,
    pub source: &'static str,
    /// The provider's event name.
    pub kind: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub request_id: &'a str,
    pub status_before: Option<Status>,
    pub status_after: Status,
    /// Older than the newest applied event: it could only fill in empty fields.
    pub stale: bool,
    /// The responders after the event: emails where known, else tool ids.
    pub responders: Vec<String>,
    pub removed_responders: &'a [String],
    pub dedupe_keys: &'a [String],
}

impl WebhookApplied<'_> {
    pub const TYPE: &'static str = "webhook.applied";
}

/// The stream key of a shard.
pub fn stream_key(store: &crate::store::Store, shard: u16) -> String {
    store.key(shard, "audit")
}
