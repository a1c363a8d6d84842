//! Prometheus metrics. One registry per running app (tests run several apps in one process), so
//! no global recorder.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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
    /// `breakglass_revocation_lag_seconds`: from the moment a revocation came due (the resolve,
    /// the expiry, the revoke request) to its role being gone.
    pub revocation_lag: Histogram,
    /// `breakglass_revocation_queue_depth`: schedule entries due and not yet done, summed over
    /// the shards at this replica's last poll.
    pub revocation_queue_depth: Gauge,
    /// `breakglass_revocation_retries_total`: revocation attempts that failed and will be retried.
    pub revocation_retries: Counter,
    /// `breakglass_revocations_total{reason}`: revocations finished, by why the binding ended.
    pub revocations: Family<ReasonLabel, Counter>,
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
    /// `breakglass_reconciler_runs_total`: reconciler passes this replica made (holding the lock).
    pub reconciler_runs: Counter,
    /// `breakglass_reconciler_roles_removed_total{reason}`: roles under the path removed for
    /// having no live binding or a passed expiry. Normally zero: each is a role that revocation
    /// missed or that was made behind the service's back.
    pub reconciler_roles_removed: Family<ReasonLabel, Counter>,
    /// `breakglass_reconciler_requeued_total`: bindings found `revoking` but off the schedule.
    pub reconciler_requeued: Counter,
    /// `breakglass_reconciler_errors_total`: roles, shards or whole passes the reconciler could
    /// not check (IAM or Redis failing); they are tried again next pass.
    pub reconciler_errors: Counter,
    /// `breakglass_audit_sealed_total`: audit entries this replica chained and sealed.
    pub audit_sealed: Counter,
    /// `breakglass_audit_seal_errors_total`: sealing passes that failed (Redis, or a replica
    /// whose `[audit] key` differs from the one the newest seal was made with).
    pub audit_seal_errors: Counter,
    /// `breakglass_account_credentials_total{account, outcome}`: granter-role sessions the
    /// service started (`ok`) or failed to start (`error`), by account.
    pub account_credentials: Family<AccountOutcomeLabels, Counter>,
    /// `breakglass_account_errors_total{account}`: grants, revocations and reconciler reads that
    /// failed in an account (IAM there, or its granter role); revocations are retried.
    pub account_errors: Family<AccountLabel, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabel {
    pub account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountOutcomeLabels {
    pub account: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
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
        let reconciler_runs = Counter::default();
        registry.register(
            "reconciler_runs",
            "Reconciler passes over IAM and Redis made by this replica",
            reconciler_runs.clone(),
        );
        let reconciler_roles_removed = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "reconciler_roles_removed",
            "Roles the reconciler removed, by reason (no live binding, expiry passed, ...)",
            reconciler_roles_removed.clone(),
        );
        let reconciler_requeued = Counter::default();
        registry.register(
            "reconciler_requeued",
            "Bindings stuck in revoking that the reconciler put back in the schedule",
            reconciler_requeued.clone(),
        );
        let reconciler_errors = Counter::default();
        registry.register(
            "reconciler_errors",
            "Roles, shards or passes the reconciler could not check because IAM or Redis failed",
            reconciler_errors.clone(),
        );
        let audit_sealed = Counter::default();
        registry.register(
            "audit_sealed",
            "Audit entries this replica chained and sealed",
            audit_sealed.clone(),
        );
        let audit_seal_errors = Counter::default();
        registry.register(
            "audit_seal_errors",
            "Audit sealing passes that failed (Redis unavailable, or a different [audit] key)",
            audit_seal_errors.clone(),
        );
        let revocation_lag = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "revocation_lag_seconds",
            "From a revocation coming due to its role being gone",
            revocation_lag.clone(),
        );
        let revocation_queue_depth = Gauge::default();
        registry.register(
            "revocation_queue_depth",
            "Schedule entries due and not yet done (revocations, expiries, deadlines)",
            revocation_queue_depth.clone(),
        );
        let revocation_retries = Counter::default();
        registry.register(
            "revocation_retries",
            "Revocation attempts that failed and will be retried",
            revocation_retries.clone(),
        );
        let revocations = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "revocations",
            "Revocations finished, by why the binding ended",
            revocations.clone(),
        );
        let account_credentials = Family::<AccountOutcomeLabels, Counter>::default();
        registry.register(
            "account_credentials",
            "Granter-role sessions started (ok) or refused (error), by account",
            account_credentials.clone(),
        );
        let account_errors = Family::<AccountLabel, Counter>::default();
        registry.register(
            "account_errors",
            "Grants, revocations and reconciler reads that failed in an account",
            account_errors.clone(),
        );
        Self {
            registry,
            account_credentials,
            account_errors,
            audit_sealed,
            audit_seal_errors,
            revocation_lag,
            revocation_queue_depth,
            revocation_retries,
            revocations,
            webhooks,
            webhook_duration,
            redis_errors,
            elevations,
            iam_grant_duration,
            reconciler_runs,
            reconciler_roles_removed,
            reconciler_requeued,
            reconciler_errors,
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

    pub fn revocation(&self, reason: &str) {
        self.revocations
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
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
