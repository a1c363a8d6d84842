//! The config file's sections. Every struct denies unknown keys so that a typo fails start-up
//! instead of silently disabling a setting.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigDuration;
use crate::keyspace::Source;
use crate::secret::Secret;

/// An address or a CIDR block: `"10.0.0.0/8"`, `"192.0.2.7"`, `"2001:db8::/32"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange(pub ipnet::IpNet);

impl IpRange {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(IpRange)
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block like 10.0.0.0/8"))
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub redis: Redis,
    #[serde(default)]
    pub aws: Aws,
    #[serde(default)]
    pub elevation: Elevation,
    #[serde(default)]
    pub revocation: Revocation,
    #[serde(default)]
    pub audit: Audit,
    #[serde(default)]
    pub sources: Sources,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub responders: Vec<ResponderEntry>,
    #[serde(default)]
    pub roles: Vec<RoleEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    /// Largest webhook body accepted, in bytes; larger ones get 413.
    pub body_limit_bytes: usize,
    /// Proxies (CIDRs) whose `X-Forwarded-For` is believed when checking source allow-lists.
    pub trusted_proxies: Vec<IpRange>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 256 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    /// May hold a password, so it is a secret: literal, `{ env = ... }` or `{ file = ... }`.
    pub url: Secret,
    /// Every key starts with this, so that several deployments can share one Redis.
    pub prefix: String,
    /// How long one Redis round trip may take before the request fails with 503.
    pub timeout: ConfigDuration,
    /// How long delivery ids are remembered for de-duplication.
    pub dedupe_ttl: ConfigDuration,
    /// Replicas that must acknowledge each atomic step (Redis `WAIT`) before breakglass answers;
    /// 0 does not wait. With it, a failover to a replica loses nothing acknowledged.
    pub wait_replicas: u32,
    /// PEM bundle of the CAs to trust for a `rediss://` URL instead of the system roots.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS; set together with `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
}

impl Redis {
    /// Whether any `tls_*` file is set, so that the client is built with them.
    pub fn has_tls_files(&self) -> bool {
        self.tls_ca_file.is_some() || self.tls_cert_file.is_some() || self.tls_key_file.is_some()
    }
}

impl Default for Redis {
    fn default() -> Self {
        Self {
            url: Secret::new("redis://127.0.0.1:6379"),
            prefix: "bg".into(),
            timeout: ConfigDuration::secs(2),
            dedupe_ttl: ConfigDuration::secs(7 * 24 * 3600),
            wait_replicas: 0,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Aws {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub role_path: String,
    /// The catalogue of accounts grants may be made in (docs/deployment/accounts.md). Empty: only
    /// the service's own account, named `default`.
    pub accounts: Vec<AccountEntry>,
    /// The permission-set role Identity Center responders sign in with.
    pub identity_center: Option<super::IdentityCenter>,
}

/// One AWS account grants may be made in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// How roles, requests, bindings, reviews and the CLI name it.
    pub name: String,
    /// The 12-digit account id.
    pub id: String,
    /// The role the service assumes to grant there. Absent: this is the service's own account,
    /// reached with the service's own credentials.
    pub granter_role_arn: Option<String>,
    /// Sent as `ExternalId` on `sts:AssumeRole` of the granter role.
    pub external_id: Option<Secret>,
    /// The IAM path of grants in this account; absent: `aws.role_path`.
    pub role_path: Option<String>,
    /// A permissions boundary every grant in this account carries (the granter role may
    /// require it), unless the role names its own.
    pub permissions_boundary: Option<String>,
    /// How long each granter session lasts; it is renewed before it ends. At least 15 minutes
    /// against AWS; the default is one hour.
    pub granter_session: Option<ConfigDuration>,
}

impl Default for Aws {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            endpoint_url: None,
            role_path: "/breakglass/".into(),
            accounts: Vec::new(),
            identity_center: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Elevation {
    pub max_active_per_subject: u32,
    pub pending_ttl: ConfigDuration,
    /// Elevation requests one person may make per minute (bursts up to this many at once).
    pub requests_per_minute: u32,
}

impl Default for Elevation {
    fn default() -> Self {
        Self {
            max_active_per_subject: 5,
            pending_ttl: ConfigDuration::secs(15 * 60),
            requests_per_minute: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Revocation {
    pub reconcile_interval: ConfigDuration,
    pub revoke_on_unassign: bool,
    /// How long a worker holds a due schedule entry before another replica may take it over
    /// (a worker that died is detected this late).
    pub lease: ConfigDuration,
    /// Revocations (and other due work) one replica runs at once.
    pub concurrency: u32,
}

impl Default for Revocation {
    fn default() -> Self {
        Self {
            reconcile_interval: ConfigDuration::secs(60),
            lease: ConfigDuration::secs(30),
            concurrency: 64,
            revoke_on_unassign: false,
        }
    }
}

/// The audit trail's seal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// The HMAC key that seals the audit chain. Kept out of Redis, so that someone with Redis
    /// access alone cannot rewrite history unnoticed. Every replica needs the same key. Without
    /// one the chain is still computed, but only detects edits by someone who does not
    /// recompute it.
    pub key: Option<Secret>,
    /// Earlier keys, whose seals still verify after a rotation (nothing is sealed with them).
    pub previous_keys: Vec<Secret>,
    /// How often each replica looks for new entries to seal.
    pub seal_interval: ConfigDuration,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            key: None,
            previous_keys: Vec::new(),
            seal_interval: ConfigDuration::millis(200),
        }
    }
}

/// The incident tools that may send webhooks. A source with no section is disabled (404).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    pub pagerduty: Option<SourceSection>,
    pub grafana_incident: Option<SourceSection>,
    pub opsgenie: Option<SourceSection>,
    pub grafana_oncall: Option<SourceSection>,
}

/// One source's section. PagerDuty and Grafana Incident sign their bodies and take `secrets`;
/// Opsgenie and Grafana OnCall sign nothing and take `tokens`. Validation says which is which.
/// Several secrets or tokens allow rotation without downtime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceSection {
    pub secrets: Vec<Secret>,
    pub tokens: Vec<Secret>,
    /// Grafana Incident: how far the `GI-Signature` timestamp may be from now.
    pub tolerance: ConfigDuration,
    /// Grafana Incident: count people in the `observer` role as responders.
    pub observers_are_responders: bool,
    /// Sustained webhooks per second accepted from this source; more get 429.
    pub rate_per_second: u32,
    /// Webhooks that may arrive at once above the sustained rate (an alert storm).
    pub rate_burst: u32,
    /// If set, only these addresses or CIDRs may call the endpoint.
    pub allow_ips: Option<Vec<IpRange>>,
}

impl Default for SourceSection {
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            tokens: Vec::new(),
            tolerance: ConfigDuration::secs(300),
            observers_are_responders: false,
            rate_per_second: 100,
            rate_burst: 1000,
            allow_ips: None,
        }
    }
}

impl Sources {
    /// The section of `source`, if that source is enabled.
    pub fn get(&self, source: Source) -> Option<&SourceSection> {
        match source {
            Source::Pagerduty => self.pagerduty.as_ref(),
            Source::GrafanaIncident => self.grafana_incident.as_ref(),
            Source::Opsgenie => self.opsgenie.as_ref(),
            Source::GrafanaOncall => self.grafana_oncall.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    pub oidc: Option<Oidc>,
}

/// A static API token, stored only as the hex SHA-256 of the token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub sha256: String,
    pub subject: String,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: Option<String>,
    pub jwks_file: Option<std::path::PathBuf>,
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    /// Emails of the people who are admins when they sign in through the IdP.
    #[serde(default)]
    pub admins: Vec<String>,
}

fn default_email_claim() -> String {
    "email".into()
}

/// One person in the responder directory: their ids in each tool and their AWS principal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderEntry {
    pub email: String,
    pub aws_principal: Option<String>,
    /// Their IAM Identity Center user name (the session name Identity Center gives them), for
    /// people who sign in through `[aws.identity_center]` instead of an IAM principal.
    pub identity_center_user: Option<String>,
    pub pagerduty: Option<String>,
    pub opsgenie: Option<String>,
    pub grafana_oncall: Option<String>,
    pub grafana_incident: Option<String>,
}

/// An emergency role responders may ask for. Validated in depth by the elevation feature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub max_duration: ConfigDuration,
    #[serde(default = "default_approval")]
    pub approval: String,
    pub policy: String,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    pub permissions_boundary: Option<String>,
    /// The accounts (by catalogue name) this role may be granted in; absent: the service's own.
    pub accounts: Option<Vec<String>>,
    #[serde(default)]
    pub when: RoleWhen,
}

fn default_approval() -> String {
    "auto".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleWhen {
    pub sources: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    pub teams: Option<Vec<String>>,
    pub priorities: Option<Vec<String>>,
}
