//! The operator commands of the `breakglass` binary, which run on the operator's machine or the
//! service's host rather than through its HTTP API: `serve`, `check-config`, `hash-token`, and
//! `audit verify`/`audit archive`, which read Redis directly. `main` parses the command line
//! and calls one function here; the responder commands, which are HTTP clients of a running
//! service, live beside the parser in the binary (`src/cli/`).
//!
//! A command writes its report to the `out` it is given (standard output) and ends in a
//! [`Failure`] when it could not do its job: one line for standard error that says what
//! happened and what to do, and the exit code.

mod archive;
mod serve;
mod setup;
mod verify;

use std::path::Path;

use crate::config::Config;
use crate::store::Store;

pub use archive::archive;
pub use serve::serve;
pub use setup::{check_config, hash_token};
pub use verify::{verify, verify_files, Verdict};

/// An operator command that could not do its job.
#[derive(Debug)]
pub struct Failure {
    /// The exit code: 1, or 2 where a script must tell "could not check" from "broken".
    pub code: u8,
    /// One line for standard error, without the `breakglass: ` prefix.
    pub message: String,
}

impl Failure {
    /// Exit 1: a bad config or argument, or a step that failed.
    fn new(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// Exit 2: what was to be verified could not be read, so it is neither intact nor broken.
    fn unverifiable(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

/// The config of an operator command, checked as `serve` checks it.
fn load(path: &Path) -> Result<Config, Failure> {
    crate::startup::load(path)
        .map_err(|e| Failure::new(format!("invalid config {}: {e}", path.display())))
}

/// The config and store of a config file, and a runtime to use the store on, for the commands
/// that read Redis directly.
fn operator_store(path: &Path) -> Result<(Config, Store, tokio::runtime::Runtime), Failure> {
    let config = load(path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))?;
    let metrics = crate::metrics::Metrics::new();
    // The connection manager needs a runtime to be created in.
    let store = runtime
        .block_on(async { Store::connect(&config.redis, metrics.redis_errors.clone()) })
        .map_err(|e| Failure::new(format!("cannot use [redis] url: {e}")))?;
    Ok((config, store, runtime))
}

#[cfg(test)]
mod tests;
