//! Loading a config for anything that runs: `serve`, `check-config`, the audit commands, and
//! every [`App`](crate::App) the tests and benchmarks build. One path, so that a config
//! `check-config` accepts is one `serve` starts with, and a bad one stops all of them with the
//! same message.
//!
//! Two kinds of checks, in order. First [`config`](crate::config) checks what it can judge by
//! itself (types, ranges, duplicates, ARNs), knowing no other part. Then each part that uses a
//! value checks it, with the knowledge only that part has: [`store`] whether `redis.url` names
//! a Redis topology and the TLS files are usable, [`directory`] whether responders' tool ids
//! can be matched and name one person each, [`grants`] whether role policies can be bounded in
//! time. Both kinds fail with a [`ConfigError`] naming the key and the fix.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::directory;
use crate::grants;
use crate::store;

/// Read a config file (with the environment overrides) and check all of it.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let config = Config::load(path)?;
    check(&config)?;
    Ok(config)
}

/// Parse TOML text (without environment overrides) and check all of it.
pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
    let config = Config::from_toml_str(text)?;
    check(&config)?;
    Ok(config)
}

/// The checks of the parts that use the config's values, for a config that passed its own
/// ([`Config::from_toml_str`]). [`App::build`](crate::App::build) runs them too, so that no
/// config reaches a running service unchecked.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    store::check_config(&config.redis)?;
    directory::check_config(&config.responders)?;
    grants::check_config(&config.roles)
}

#[cfg(test)]
mod tests;
