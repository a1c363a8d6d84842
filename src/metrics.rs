//! Prometheus metrics. One registry per running app (tests run several apps in one process), so
//! no global recorder.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub source: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// `breakglass_webhooks_total{source, outcome}`.
    pub webhooks: Family<WebhookLabels, Counter>,
    /// `breakglass_webhook_duration_seconds{source}`: receipt to answer.
    pub webhook_duration: Family<SourceLabel, Histogram>,
    /// `breakglass_redis_errors_total`: operations that failed because Redis did.
    pub redis_errors: Counter,
    /// `breakglass_elevations_total{outcome}`: granted, pending_approval, existing, approved,
    /// or the error code of a refusal (not_on_call, incident_not_open, grant_failed, ...).
    pub elevations: Family<OutcomeLabel, Counter>,
    /// `breakglass_iam_grant_duration_seconds`: time spent in IAM creating one binding's role.
    pub iam_grant_duration: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("breakglass");
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhooks received, by source and outcome",
            webhooks.clone(),
        );
        let webhook_duration = Family::<SourceLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "webhook_duration_seconds",
            "Time from receiving a webhook to answering it",
            webhook_duration.clone(),
        );
        let redis_errors = Counter::default();
        registry.register(
            "redis_errors",
            "Operations that failed because Redis was unavailable or slow",
            redis_errors.clone(),
        );
        let elevations = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "elevations",
            "Elevation requests, by outcome or refusal code",
            elevations.clone(),
        );
        let iam_grant_duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "iam_grant_duration_seconds",
            "Time spent in IAM creating one binding's role",
            iam_grant_duration.clone(),
        );
        Self {
            registry,
            webhooks,
            webhook_duration,
            redis_errors,
            elevations,
            iam_grant_duration,
        }
    }

    pub fn webhook(&self, source: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                source: source.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn elevation(&self, outcome: &str) {
        self.elevations
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
