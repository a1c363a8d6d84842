//! Whole-config validation: everything a single field's type cannot check on its own.

use std::collections::HashSet;

use super::{Config, ConfigError, Oidc, SourceSection};
use crate::directory::tool_key;
use crate::incidents::Source;

type Result = std::result::Result<(), ConfigError>;

/// The longest `max_duration` a role may have.
const MAX_ROLE_DURATION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

impl Config {
    pub(super) fn validate(&self) -> Result {
        self.validate_server()?;
        self.validate_redis()?;
        self.validate_sources()?;
        self.validate_auth()?;
        self.validate_responders()?;
        self.validate_roles()?;
        self.validate_aws()?;
        self.validate_elevation()?;
        self.validate_revocation()?;
        self.validate_audit()
    }

    fn validate_audit(&self) -> Result {
        if let Some(key) = &self.audit.key {
            if key.expose().len() < 32 {
                return Err(ConfigError::new(
                    "audit.key",
                    "must be at least 32 characters; make one with `openssl rand -hex 32`",
                ));
            }
        } else if !self.audit.previous_keys.is_empty() {
            return Err(ConfigError::new(
                "audit.previous_keys",
                "needs audit.key: previous keys only check old seals, the current key makes new ones",
            ));
        }
        let interval = self.audit.seal_interval.0;
        if interval < std::time::Duration::from_millis(10)
            || interval > std::time::Duration::from_secs(60)
        {
            return Err(ConfigError::new(
                "audit.seal_interval",
                "must be between 10ms and 60s; the default is \"200ms\"",
            ));
        }
        Ok(())
    }

    fn validate_revocation(&self) -> Result {
        if self.revocation.reconcile_interval.0 < std::time::Duration::from_secs(1) {
            return Err(ConfigError::new(
                "revocation.reconcile_interval",
                "must be at least 1s; the default is 60s",
            ));
        }
        if self.revocation.lease.0.as_secs() < 1 {
            return Err(ConfigError::new(
                "revocation.lease",
                "must be at least 1 second; the default is \"30s\"",
            ));
        }
        if self.revocation.concurrency == 0 || self.revocation.concurrency > 10_000 {
            return Err(ConfigError::new(
                "revocation.concurrency",
                "must be between 1 and 10000; the default is 64",
            ));
        }
        Ok(())
    }

    fn validate_aws(&self) -> Result {
        let path = &self.aws.role_path;
        let ok = path.starts_with('/')
            && path.ends_with('/')
            && path.len() <= 512
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/+=,.@_-".contains(c));
        if !ok || path == "/" {
            return Err(ConfigError::new(
                "aws.role_path",
                "must be an IAM path of its own like \"/breakglass/\": it bounds what the service may touch",
            ));
        }
        if self.aws.region.trim().is_empty() {
            return Err(ConfigError::new(
                "aws.region",
                "name the region, like \"us-east-1\"",
            ));
        }
        if let Some(url) = &self.aws.endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "aws.endpoint_url",
                    "must be an http(s) URL like http://127.0.0.1:5000 (for a local emulator); leave it out for AWS",
                ));
            }
        }
        Ok(())
    }

    fn validate_elevation(&self) -> Result {
        if self.elevation.requests_per_minute < 30 {
            return Err(ConfigError::new(
                "elevation.requests_per_minute",
                "must be at least 30: responders in an outage retry; the default is 60",
            ));
        }
        if self.elevation.pending_ttl.0.as_secs() < 1 {
            return Err(ConfigError::new(
                "elevation.pending_ttl",
                "must be at least 1 second, like \"15m\" (the default)",
            ));
        }
        if self.elevation.max_active_per_subject == 0 {
            return Err(ConfigError::new(
                "elevation.max_active_per_subject",
                "must be at least 1; the default is 5",
            ));
        }
        Ok(())
    }

    fn validate_server(&self) -> Result {
        let limit = self.server.body_limit_bytes;
        if limit == 0 || limit > 16 * 1024 * 1024 {
            return Err(ConfigError::new(
                "server.body_limit_bytes",
                "must be between 1 and 16777216 (16 MiB); the default is 262144",
            ));
        }
        Ok(())
    }

    fn validate_redis(&self) -> Result {
        let prefix = &self.redis.prefix;
        if prefix.is_empty()
            || prefix.len() > 64
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(ConfigError::new(
                "redis.prefix",
                "use 1 to 64 letters, digits, `-`, `_`, `.` or `:` (no braces: they pick Cluster slots)",
            ));
        }
        if let Some(Err(_)) = crate::store::sentinel_target(self.redis.url.expose()) {
            return Err(ConfigError::new(
                "redis.url",
                "not a Redis Sentinel URL; list the sentinels and name the master like redis+sentinel://user:password@s1:26379,s2:26379/mymaster",
            ));
        }
        let sentinel = crate::store::sentinel_target(self.redis.url.expose()).is_some();
        match crate::store::cluster_nodes(self.redis.url.expose()) {
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                return Err(ConfigError::new(
                    "redis.url",
                    "not a Redis Cluster URL; list the seed nodes like redis+cluster://user:password@host1:6379,host2:6379",
                ))
            }
            None if !sentinel && redis::Client::open(self.redis.url.expose()).is_err() => {
                return Err(ConfigError::new(
                    "redis.url",
                    "not a Redis URL; write it like redis://host:6379, redis://user:password@host:6379/0, rediss://... for TLS or redis+cluster://host1:6379,host2:6379",
                ));
            }
            None => {}
        }
        self.validate_redis_tls()?;
        if self.redis.timeout.0.is_zero() {
            return Err(ConfigError::new(
                "redis.timeout",
                "must be more than 0, like \"2s\"",
            ));
        }
        Ok(())
    }

    /// The `tls_*` files: only with a `rediss://` URL, cert and key together, all readable.
    /// Errors never show the URL: it may carry a password.
    fn validate_redis_tls(&self) -> Result {
        let r = &self.redis;
        match (&r.tls_cert_file, &r.tls_key_file) {
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "redis.tls_key_file",
                    "set it together with redis.tls_cert_file: mutual TLS needs both the client certificate and its key",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "redis.tls_cert_file",
                    "set it together with redis.tls_key_file: mutual TLS needs both the client certificate and its key",
                ))
            }
            _ => {}
        }
        let files = [
            ("redis.tls_ca_file", &r.tls_ca_file),
            ("redis.tls_cert_file", &r.tls_cert_file),
            ("redis.tls_key_file", &r.tls_key_file),
        ];
        let scheme = r
            .url
            .expose()
            .trim_start()
            .split("://")
            .next()
            .unwrap_or("");
        let is_tls_url = ["rediss", "valkeys", "rediss+cluster", "rediss+sentinel"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s));
        for (key, file) in files {
            let Some(path) = file else { continue };
            if !is_tls_url {
                return Err(ConfigError::new(
                    key,
                    "TLS settings need a rediss:// URL in redis.url (redis:// is plain text)",
                ));
            }
            if let Err(e) = std::fs::read(path) {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "cannot read `{}`: {e}; point it at a PEM file",
                        path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_sources(&self) -> Result {
        let s = &self.sources;
        for (name, section, signed) in [
            ("pagerduty", &s.pagerduty, true),
            ("grafana_incident", &s.grafana_incident, true),
            ("opsgenie", &s.opsgenie, false),
            ("grafana_oncall", &s.grafana_oncall, false),
        ] {
            if let Some(section) = section {
                validate_source(name, section, signed)?;
            }
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result {
        let mut seen = HashSet::new();
        for (i, token) in self.auth.tokens.iter().enumerate() {
            let key = |field: &str| format!("auth.tokens[{i}].{field}");
            if token.sha256.len() != 64 || hex::decode(&token.sha256).is_err() {
                return Err(ConfigError::new(
                    key("sha256"),
                    "must be 64 hex characters: the SHA-256 of the token, e.g. `printf %s \"$TOKEN\" | sha256sum`",
                ));
            }
            if !seen.insert(token.sha256.to_ascii_lowercase()) {
                return Err(ConfigError::new(
                    key("sha256"),
                    "the same token is listed twice; give each token one entry",
                ));
            }
            if token.subject.trim().is_empty() {
                return Err(ConfigError::new(
                    key("subject"),
                    "name who the token belongs to: a responder's email or an operator name",
                ));
            }
        }
        match &self.auth.oidc {
            Some(oidc) => validate_oidc(oidc),
            None => Ok(()),
        }
    }

    fn validate_responders(&self) -> Result {
        let mut emails = HashSet::new();
        let mut tool_ids = HashSet::new();
        for (i, r) in self.responders.iter().enumerate() {
            let key = |field: &str| format!("responders[{i}].{field}");
            let email = r.email.trim();
            if !looks_like_email(email) {
                return Err(ConfigError::new(
                    key("email"),
                    "must be an email address like alice@example.com",
                ));
            }
            if !emails.insert(email.to_ascii_lowercase()) {
                return Err(ConfigError::new(
                    key("email"),
                    format!("duplicate responder `{email}`; merge the two entries into one"),
                ));
            }
            if let Some(arn) = &r.aws_principal {
                if !is_iam_principal_arn(arn) {
                    return Err(ConfigError::new(
                        key("aws_principal"),
                        "must be an IAM user or role ARN like arn:aws:iam::123456789012:user/alice",
                    ));
                }
            }
            for (tool, source, id) in [
                ("pagerduty", Source::Pagerduty, &r.pagerduty),
                ("opsgenie", Source::Opsgenie, &r.opsgenie),
                ("grafana_oncall", Source::GrafanaOncall, &r.grafana_oncall),
                (
                    "grafana_incident",
                    Source::GrafanaIncident,
                    &r.grafana_incident,
                ),
            ] {
                let Some(id) = id else { continue };
                let matched_on = tool_key(source, id).map_err(|why| {
                    ConfigError::new(
                        key(tool),
                        format!("`{id}` {why}; write the person's id in {tool}"),
                    )
                })?;
                // Compared as they will be matched: trimmed, ignoring ASCII case, per field.
                if !tool_ids.insert((source, matched_on)) {
                    return Err(ConfigError::new(
                        key(tool),
                        format!("`{id}` already belongs to another responder; each tool id maps to one person, so fix the directory before starting"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_roles(&self) -> Result {
        let mut names = HashSet::new();
        for (i, role) in self.roles.iter().enumerate() {
            let key = |field: &str| format!("roles[{i}].{field}");
            let name_ok = !role.name.is_empty()
                && role.name.len() <= 64
                && role
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                return Err(ConfigError::new(
                    key("name"),
                    "use 1 to 64 letters, digits, `-` or `_`",
                ));
            }
            if !names.insert(role.name.as_str()) {
                return Err(ConfigError::new(
                    key("name"),
                    format!("role `{}` is defined twice; rename or merge one", role.name),
                ));
            }
            if role.max_duration.0.as_secs() < 1 {
                return Err(ConfigError::new(
                    key("max_duration"),
                    "must be at least 1 second, like \"1h\"",
                ));
            }
            if role.max_duration.0 > MAX_ROLE_DURATION {
                return Err(ConfigError::new(
                    key("max_duration"),
                    "must be at most 30 days: emergency access that lasts longer is standing access",
                ));
            }
            if role.approval != "auto" && role.approval != "peer" {
                return Err(ConfigError::new(
                    key("approval"),
                    "must be \"auto\" or \"peer\"",
                ));
            }
            if let Some(sources) = &role.when.sources {
                for (j, source) in sources.iter().enumerate() {
                    if source.parse::<crate::incidents::Source>().is_err() {
                        return Err(ConfigError::new(
                            key(&format!("when.sources[{j}]")),
                            format!("`{source}` is not a source; use pagerduty, opsgenie, grafana-oncall or grafana-incident"),
                        ));
                    }
                }
            }
            check_policy_document(&role.policy)
                .map_err(|why| ConfigError::new(key("policy"), why))?;
            let policy_arns = role
                .managed_policies
                .iter()
                .enumerate()
                .map(|(j, arn)| (format!("managed_policies[{j}]"), arn))
                .chain(
                    role.permissions_boundary
                        .iter()
                        .map(|arn| ("permissions_boundary".to_owned(), arn)),
                );
            for (field, arn) in policy_arns {
                if !is_policy_arn(arn) {
                    return Err(ConfigError::new(
                        key(&field),
                        "must be an IAM managed policy ARN like arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/name",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn validate_source(name: &str, section: &SourceSection, signed: bool) -> Result {
    let key = |field: &str| format!("sources.{name}.{field}");
    if signed {
        if section.secrets.is_empty() {
            return Err(ConfigError::new(
                key("secrets"),
                "give at least one webhook signing secret (literal, { env = \"VAR\" } or { file = \"path\" })",
            ));
        }
        if !section.tokens.is_empty() {
            return Err(ConfigError::new(
                key("tokens"),
                "this source signs its webhooks; use `secrets`, not `tokens`",
            ));
        }
    } else {
        if section.tokens.is_empty() {
            return Err(ConfigError::new(
                key("tokens"),
                "give at least one shared token (literal, { env = \"VAR\" } or { file = \"path\" })",
            ));
        }
        if !section.secrets.is_empty() {
            return Err(ConfigError::new(
                key("secrets"),
                "this source cannot sign webhooks; use `tokens`, not `secrets`",
            ));
        }
    }
    if section.rate_per_second == 0 || section.rate_burst == 0 {
        return Err(ConfigError::new(
            key("rate_per_second"),
            "rate_per_second and rate_burst must both be at least 1",
        ));
    }
    if name != "grafana_incident" && section.observers_are_responders {
        return Err(ConfigError::new(
            key("observers_are_responders"),
            "only Grafana Incident has observers; remove this key",
        ));
    }
    Ok(())
}

fn validate_oidc(oidc: &Oidc) -> Result {
    let key = |field: &str| format!("auth.oidc.{field}");
    match (&oidc.jwks_url, &oidc.jwks_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                key("jwks_url"),
                "give either `jwks_url` or `jwks_file`, not both; remove one",
            ))
        }
        (None, None) => {
            return Err(ConfigError::new(
                key("jwks_url"),
                "give the identity provider's signing keys: `jwks_url` (its `jwks_uri`) or `jwks_file` (a saved copy)",
            ))
        }
        (Some(url), None) => {
            let scheme_ok = reqwest::Url::parse(url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.host_str().is_some()
            });
            if !scheme_ok {
                return Err(ConfigError::new(
                    key("jwks_url"),
                    "must be an http(s) URL like https://idp.example.com/.well-known/jwks.json",
                ));
            }
        }
        (None, Some(_)) => {}
    }
    if oidc.issuer.trim().is_empty() {
        return Err(ConfigError::new(
            key("issuer"),
            "give the identity provider's issuer, exactly as its tokens' `iss` claim says, like https://idp.example.com",
        ));
    }
    if oidc.audience.trim().is_empty() {
        return Err(ConfigError::new(
            key("audience"),
            "give the audience the tokens are issued for (their `aud` claim), usually breakglass's client id at the identity provider",
        ));
    }
    if oidc.email_claim.trim().is_empty() {
        return Err(ConfigError::new(
            key("email_claim"),
            "name the claim holding the caller's email, or remove the key for the default `email`",
        ));
    }
    for (i, admin) in oidc.admins.iter().enumerate() {
        if !looks_like_email(admin.trim()) {
            return Err(ConfigError::new(
                format!("auth.oidc.admins[{i}]"),
                "must be an email address like alice@example.com",
            ));
        }
    }
    Ok(())
}

/// A role's policy must be one breakglass can bound in time: the same check the grant runs, at
/// start-up, so that a bad template fails here and not as a 502 in an outage.
fn check_policy_document(text: &str) -> std::result::Result<(), String> {
    const FIX: &str = r#"write it like {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:Describe*"],"Resource":"*"}]}"#;
    crate::grants::policy::with_expiry(text, chrono::Utc::now())
        .map(drop)
        .map_err(|e| format!("{e}; {FIX}"))
}

fn looks_like_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((user, domain)) if !user.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace))
}

/// `arn:<partition>:iam::<12-digit account or "aws">:policy/<path+name>`.
fn is_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && (account == "aws"
            || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
        && resource
            .strip_prefix("policy/")
            .is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace))
}

/// `arn:<partition>:iam::<12-digit account>:user/<path+name>`, `...:role/...` or `...:root`.
pub fn is_iam_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && (resource == "root"
            || ["user/", "role/"].iter().any(|p| {
                resource
                    .strip_prefix(p)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
            }))
}
