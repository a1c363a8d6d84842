//! Whole-config validation: everything a single field's type cannot check on its own, and that
//! the config can judge by itself. This file checks the service's own settings (server, Redis,
//! AWS, elevation, revocation, audit); `validate/access.rs` checks who may do what (sources, API
//! callers, responders, roles).
//!
//! What only the part that uses a value can judge (that `redis.url` names a Redis topology, the
//! TLS files, responders' tool ids, role policies) that part checks; `startup::check` runs those
//! checks after these, and nothing starts unless both pass.

mod access;
mod accounts;
mod identity_center;

pub use accounts::OWN_ACCOUNT;

use super::{Config, ConfigError};

type Result = std::result::Result<(), ConfigError>;

impl Config {
    pub(super) fn validate(&self) -> Result {
        self.validate_server()?;
        self.validate_redis()?;
        self.validate_sources()?;
        self.validate_auth()?;
        self.validate_responders()?;
        self.validate_identities()?;
        self.validate_roles()?;
        self.validate_aws()?;
        self.validate_accounts()?;
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
        if !role_path_ok(&self.aws.role_path) {
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
        if self.redis.timeout.0.is_zero() {
            return Err(ConfigError::new(
                "redis.timeout",
                "must be more than 0, like \"2s\"",
            ));
        }
        Ok(())
    }
}

/// An IAM path of the service's own: `/name/`, never the root path.
fn role_path_ok(path: &str) -> bool {
    path.starts_with('/')
        && path.ends_with('/')
        && path != "/"
        && path.len() <= 512
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/+=,.@_-".contains(c))
}
