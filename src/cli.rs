//! Command-line interface of the `breakglass` binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "breakglass",
    version,
    about = "Incident-driven break-glass access to AWS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service in the foreground; stops cleanly on SIGINT or SIGTERM.
    Serve {
        /// Path to the TOML config file.
        #[arg(long, env = "BREAKGLASS_CONFIG")]
        config: PathBuf,
    },
    /// Validate a config file and exit: 0 if it would start, 1 with the reason if not.
    CheckConfig {
        #[arg(long, env = "BREAKGLASS_CONFIG")]
        config: PathBuf,
    },
    /// Print the hex SHA-256 of an API token read from standard input, for `[[auth.tokens]] sha256`.
    HashToken,
}
