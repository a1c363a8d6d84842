//! Webhook intake: one adapter per incident tool, each turning an authenticated raw request into
//! zero or more normalized [`IncidentEvent`]s.
//!
//! Authentication always runs on the raw bytes before any JSON is parsed, and only a
//! [`VerifiedWebhook`] (which nothing outside [`auth`] can construct) reaches a normalizer.

pub mod auth;
pub mod grafana_incident;
pub mod grafana_oncall;
pub mod intake;
pub mod opsgenie;
pub mod pagerduty;
mod payload;
#[cfg(test)]
mod test_support;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

use crate::incidents::{IncidentEvent, Source};

pub use auth::{AuthFailure, VerifiedWebhook};

/// What a verified webhook turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized {
    /// Events to apply, in the order the payload implies.
    Events(Vec<IncidentEvent>),
    /// Authenticated but of no interest (a ping, an event type breakglass does not track).
    /// Answered with 2xx so the provider never disables the subscription.
    Ignored { kind: String },
}

/// Why an authenticated body could not be understood. Answered with 400; the message is safe to
/// show the caller (it names fields, never echoes values).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the body is not valid JSON for this source: {0}")]
    Json(String),
    #[error("the payload has no usable `{0}`")]
    Missing(&'static str),
    #[error("the payload's `{0}` is not valid")]
    Invalid(&'static str),
}

/// Options that change how payloads are read, taken from the source's config section.
#[derive(Debug, Clone, Default)]
pub struct NormalizeOptions {
    /// Grafana Incident: count `observer` role holders as responders.
    pub observers_are_responders: bool,
}

/// Turn a verified webhook into events. Dispatches on the closed set of sources.
/// `received_at` stands in for the event time where a provider sends none (some Grafana OnCall
/// event types).
pub fn normalize(
    webhook: &VerifiedWebhook,
    options: &NormalizeOptions,
    received_at: DateTime<Utc>,
) -> Result<Normalized, PayloadError> {
    let body: &Bytes = webhook.body();
    let headers: &HeaderMap = webhook.headers();
    match webhook.source() {
        Source::Pagerduty => pagerduty::normalize(body, headers),
        Source::Opsgenie => opsgenie::normalize(body),
        Source::GrafanaOncall => grafana_oncall::normalize_at(body, received_at),
        Source::GrafanaIncident => grafana_incident::normalize(body, options),
    }
}
