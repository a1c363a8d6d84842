//! Configuration: one TOML file (see CONTRACT.md and `config/demo.toml`), layered as built-in
//! defaults, then the file, then a few environment overrides (`BREAKGLASS_LISTEN`,
//! `BREAKGLASS_REDIS_URL`, `BREAKGLASS_REDIS_PREFIX`, `BREAKGLASS_AWS_ENDPOINT_URL`).
//!
//! Everything is validated at load time; a bad config never starts. Errors name the key and the
//! fix in one line. Secret-valued settings accept a literal, `{ env = "VAR" }` or
//! `{ file = "path" }` and are resolved while loading, so a missing variable is reported against
//! its key.
//!
//! The config is a leaf (it uses only `secret` and `keyspace`): it checks what it can judge by
//! itself, and the parts that use a value check the rest; `startup` loads a config and runs
//! both.

mod duration;
mod identity_center;
mod sections;
mod validate;

use std::path::Path;

pub use duration::ConfigDuration;
pub use identity_center::{is_permission_set_role, is_session_name, IdentityCenter};
pub use sections::*;
pub use validate::OWN_ACCOUNT;

/// A config that cannot be used, with the key at fault and what to do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("config key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Read, parse, override from the environment and validate a config file, as far as the
    /// config can by itself: `startup::load` is the whole check.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "(file)",
                format!(
                    "cannot read `{}`: {e}; pass an existing file to --config or BREAKGLASS_CONFIG",
                    path.display()
                ),
            )
        })?;
        let mut config = Self::parse(&text)?;
        config.apply_env_overrides()?;
        config.validate()?;
        Ok(config)
    }

    /// Parse and validate TOML text without environment overrides (tests and tools use this), as
    /// far as the config can by itself; `App::build` runs the rest of the checks before it
    /// starts anything, `startup::from_toml_str` runs them right away.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config = Self::parse(text)?;
        config.validate()?;
        Ok(config)
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            ConfigError::new(
                "(syntax)",
                format!("{}; fix the TOML syntax", e.message().trim()),
            )
        })?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().trim().to_owned();
            let fix = if message.starts_with("unknown field") {
                "; remove it or correct its spelling (see the configuration reference: docs/configuration/index.md)"
            } else if message.starts_with("missing field") {
                "; add it (see the configuration reference: docs/configuration/index.md)"
            } else {
                ""
            };
            ConfigError::new(key, format!("{message}{fix}"))
        })
    }

    fn apply_env_overrides(&mut self) -> Result<(), ConfigError> {
        if let Ok(listen) = std::env::var("BREAKGLASS_LISTEN") {
            self.server.listen = listen.parse().map_err(|_| {
                ConfigError::new(
                    "BREAKGLASS_LISTEN",
                    "not a socket address; use host:port like 127.0.0.1:8080",
                )
            })?;
        }
        if let Ok(url) = std::env::var("BREAKGLASS_REDIS_URL") {
            self.redis.url = crate::secret::Secret::new(url);
        }
        if let Ok(prefix) = std::env::var("BREAKGLASS_REDIS_PREFIX") {
            self.redis.prefix = prefix;
        }
        if let Ok(endpoint) = std::env::var("BREAKGLASS_AWS_ENDPOINT_URL") {
            self.aws.endpoint_url = Some(endpoint);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
