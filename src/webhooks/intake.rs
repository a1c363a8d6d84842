//! The intake service: from a raw request to applied incident events.
//!
//! Order matters: the source must be enabled, the caller's address allowed, the request
//! authenticated (on raw bytes), then rate limited, and only then is the body parsed and
//! applied. Nothing before authentication reads the body's content.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;

use super::auth::{AuthFailure, Verifier};
use super::{normalize, NormalizeOptions, Normalized, PayloadError};
use crate::config::{IpRange, SourceSection, Sources};
use crate::directory::ResponderDirectory;
use crate::incidents::{ApplyOutcome, IncidentId, IncidentStore, Source};
use crate::store::StoreError;

/// What a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    /// At least one event changed incident state (or was recorded against it).
    Applied { incidents: Vec<IncidentId> },
    /// Every event in it had been applied before.
    Duplicate,
    /// Authenticated, but nothing breakglass tracks.
    Ignored { kind: String },
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("source `{0}` is not enabled in this deployment")]
    NotEnabled(Source),
    #[error("caller address {0} is not on the source's allow-list")]
    AddressNotAllowed(IpAddr),
    #[error("authentication failed: {0}")]
    Unauthenticated(AuthFailure),
    #[error("rate limit exceeded for this source")]
    RateLimited,
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct SourceIntake {
    verifier: Verifier,
    limiter: DefaultDirectRateLimiter,
    allow_ips: Option<Vec<IpRange>>,
    options: NormalizeOptions,
}

/// Receives webhooks for every enabled source.
pub struct Intake {
    sources: HashMap<Source, SourceIntake>,
    incidents: IncidentStore,
    directory: Arc<ResponderDirectory>,
    /// Wakes the schedule worker when a resolve (or a responder's removal, with
    /// `revoke_on_unassign`) may have queued revocations.
    on_resolve: Arc<Notify>,
}

impl Intake {
    pub fn new(
        config: &Sources,
        incidents: IncidentStore,
        directory: Arc<ResponderDirectory>,
        on_resolve: Arc<Notify>,
    ) -> Self {
        let sources = Source::ALL
            .into_iter()
            .filter_map(|source| Some((source, source_intake(source, config.get(source)?))))
            .collect();
        Self {
            sources,
            incidents,
            directory,
            on_resolve,
        }
    }

    /// Whether `source` has a config section.
    pub fn is_enabled(&self, source: Source) -> bool {
        self.sources.contains_key(&source)
    }

    pub async fn receive(
        &self,
        source: Source,
        client_ip: IpAddr,
        headers: HeaderMap,
        body: Bytes,
        request_id: &str,
    ) -> Result<IntakeOutcome, IntakeError> {
        let intake = self
            .sources
            .get(&source)
            .ok_or(IntakeError::NotEnabled(source))?;
        if let Some(allowed) = &intake.allow_ips {
            if !allowed.iter().any(|range| range.contains(client_ip)) {
                return Err(IntakeError::AddressNotAllowed(client_ip));
            }
        }
        let now = Utc::now();
        let webhook = intake
            .verifier
            .verify(source, headers, body, now)
            .map_err(IntakeError::Unauthenticated)?;
        // Limit after authentication: forged traffic cannot use up a real source's allowance.
        intake
            .limiter
            .check()
            .map_err(|_| IntakeError::RateLimited)?;
        let events = match normalize(&webhook, &intake.options, now)? {
            Normalized::Ignored { kind } => return Ok(IntakeOutcome::Ignored { kind }),
            Normalized::Events(events) => events,
        };
        let mut applied = Vec::new();
        for event in &events {
            match self
                .incidents
                .apply(event, self.directory.as_ref(), request_id, now)
                .await?
            {
                ApplyOutcome::Applied(outcome) => {
                    if outcome.resolved_now() || !outcome.removed_responders.is_empty() {
                        self.on_resolve.notify_one();
                    }
                    applied.push(event.incident.clone())
                }
                ApplyOutcome::Duplicate => {}
            }
        }
        Ok(if applied.is_empty() {
            IntakeOutcome::Duplicate
        } else {
            IntakeOutcome::Applied { incidents: applied }
        })
    }
}

fn source_intake(source: Source, section: &SourceSection) -> SourceIntake {
    let verifier = match source {
        Source::Pagerduty => Verifier::PagerDuty {
            secrets: section.secrets.clone(),
        },
        Source::GrafanaIncident => Verifier::GrafanaIncident {
            secrets: section.secrets.clone(),
            tolerance: Duration::from(section.tolerance),
        },
        Source::Opsgenie | Source::GrafanaOncall => Verifier::tokens(&section.tokens),
    };
    // Validation guarantees both are at least 1.
    let rate = NonZeroU32::new(section.rate_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(section.rate_burst).unwrap_or(NonZeroU32::MIN);
    SourceIntake {
        verifier,
        limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
        allow_ips: section.allow_ips.clone(),
        options: NormalizeOptions {
            observers_are_responders: section.observers_are_responders,
        },
    }
}
