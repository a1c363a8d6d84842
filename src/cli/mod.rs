//! Command-line interface of the `breakglass` binary: the operator commands (`serve`,
//! `check-config`, `hash-token`, `audit verify`/`archive`), which the library runs
//! (`breakglass::ops`), and the responder commands (`elevate`, `incidents`, `approve`, `status`,
//! `revoke`), which talk to a running service over its HTTP API through [`client`] and print
//! what [`output`] formats.
//!
//! The responder commands are written for someone in an outage: every failure is one line on
//! standard error that says what happened and what to do, and the token never appears in any
//! output, help text included.

pub mod client;
mod credentials;
pub mod output;

use std::io::Write as _;
use std::path::PathBuf;

use breakglass::secret::Secret;
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::json;

use client::{CliError, Client};
use output::{BindingView, IncidentList};

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
    /// The audit trail: verify its chain, export a time range, archive old events.
    #[command(subcommand)]
    Audit(Audit),
    #[command(flatten)]
    Responder(Responder),
}

/// The commands a responder runs against a running service.
#[derive(Debug, Subcommand)]
pub enum Responder {
    /// Download an incident's post-incident review: every binding from request to removal, and
    /// every audit event (the incident's responders and admins).
    Review {
        /// The incident, as `<source>:<id>`, e.g. pagerduty:PFQZPSY.
        #[arg(value_name = "INCIDENT")]
        incident: String,
        /// md (Markdown, to paste into a review document), html (a self-contained page with a
        /// timeline), csv (for a spreadsheet) or json.
        #[arg(long, default_value = "md", value_parser = ["md", "html", "csv", "json"])]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Ask for a role on an incident you are on call for; prints the `aws sts assume-role` command.
    Elevate {
        /// The incident, as `<source>:<id>`, e.g. pagerduty:PFQZPSY (see `breakglass incidents`).
        #[arg(long, value_name = "ID")]
        incident: String,
        /// The role from the catalogue, e.g. prod-db-read.
        #[arg(long, value_name = "NAME")]
        role: String,
        /// How long: 90s, 30m, 1h, or a number of seconds; at most the role's cap.
        #[arg(long, value_name = "DURATION")]
        duration: String,
        /// Why you need it; goes into the audit trail and the incident review.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The AWS account, by its catalogue name; needed when the role has several.
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print AWS `credential_process` JSON for a breakglass role: reuses your live binding of the
    /// incident, role and account, or asks for one with --reason; for `aws --profile ...`.
    Credentials(credentials::CredentialsArgs),
    /// List your incidents (open ones unless --all).
    Incidents {
        /// Include resolved incidents too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Approve another responder's pending request for a peer-approved role.
    Approve {
        /// The binding id from the requester's `breakglass elevate`.
        binding: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a binding: its status, expiry and, while active, the assume-role command.
    Status {
        binding: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Give a role back before it expires: the IAM role is deleted.
    Revoke {
        binding: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// `breakglass audit ...`.
#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Recompute every shard's hash chain and check its seals against the [audit] key; exits 1
    /// naming the first broken link of each broken shard. Reads Redis directly.
    Verify {
        #[arg(long, env = "BREAKGLASS_CONFIG")]
        config: PathBuf,
        /// Print the whole report as JSON.
        #[arg(long)]
        json: bool,
        /// Check these archive files (from `audit archive`) instead of Redis.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        archive: Vec<PathBuf>,
    },
    /// Write every sealed event older than --before to one NDJSON file per shard in --dir,
    /// checking the chain on the way; with --trim, then remove them from Redis, leaving an
    /// anchor where the chain continues and an `audit.archived` event. Reads Redis directly.
    Archive {
        #[arg(long, env = "BREAKGLASS_CONFIG")]
        config: PathBuf,
        /// Archive events recorded before this time (RFC 3339, e.g. 2026-01-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        before: String,
        /// Where to write the files (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Remove the archived events from Redis once their files are safely on disk.
        #[arg(long)]
        trim: bool,
    },
    /// Stream a time range of the audit trail as NDJSON (admins only), for a SIEM or an archive.
    Export {
        /// Start of the range (RFC 3339, e.g. 2026-11-01T00:00:00Z); default: the beginning.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// End of the range (RFC 3339); default: now.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Where the service is and who is asking; on every responder command.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The breakglass service's base URL.
    #[arg(
        long,
        env = "BREAKGLASS_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,
    /// Your API token or OIDC JWT. Prefer the environment variable: other users can see
    /// command-line arguments in `ps`.
    #[arg(
        long,
        env = "BREAKGLASS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = secret_arg
    )]
    pub token: Option<Secret>,
    /// Print the service's JSON answer as it came instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Kept as a [`Secret`] from the moment it is parsed, so no `Debug` of the arguments shows it.
fn secret_arg(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

/// Run a responder command. `Ok` is what to print on standard output; the error's `Display` is
/// the one line for standard error.
pub fn run(command: Responder) -> Result<String, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(execute(command))
}

/// Where a download goes: a file (created, or replaced) or standard output.
fn sink(output: Option<&std::path::Path>) -> Result<Box<dyn std::io::Write>, CliError> {
    match output {
        Some(path) => std::fs::File::create(path)
            .map(|f| Box::new(std::io::BufWriter::new(f)) as Box<dyn std::io::Write>)
            .map_err(|e| CliError::Write(format!("{}: {e}", path.display()))),
        None => Ok(Box::new(std::io::stdout().lock())),
    }
}

/// Fetch a document into `output` (a file, or standard output).
async fn download(
    api: &ApiArgs,
    path: &[&str],
    query: &[(&str, &str)],
    output: Option<&std::path::Path>,
) -> Result<String, CliError> {
    let client = Client::new(api)?;
    let mut out = sink(output)?;
    let written = client
        .download(path, query, |chunk| out.write_all(chunk))
        .await?;
    out.flush().map_err(|e| CliError::Write(e.to_string()))?;
    Ok(match output {
        Some(path) => format!("wrote {written} bytes to {}\n", path.display()),
        None => String::new(),
    })
}

/// Run `breakglass audit export`.
pub fn export(
    since: Option<String>,
    until: Option<String>,
    output: Option<PathBuf>,
    api: ApiArgs,
) -> Result<String, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let mut query = Vec::new();
    if let Some(s) = since.as_deref() {
        query.push(("since", s));
    }
    if let Some(u) = until.as_deref() {
        query.push(("until", u));
    }
    runtime.block_on(download(&api, &["v1", "audit"], &query, output.as_deref()))
}

async fn execute(command: Responder) -> Result<String, CliError> {
    match command {
        Responder::Credentials(args) => credentials::run(args).await,
        Responder::Review {
            incident,
            format,
            output,
            api,
        } => {
            download(
                &api,
                &["v1", "incidents", &incident, "review"],
                &[("format", &format)],
                output.as_deref(),
            )
            .await
        }
        Responder::Elevate {
            incident,
            role,
            duration,
            reason,
            account,
            api,
        } => {
            let mut body =
                json!({"incident": incident, "role": role, "duration": duration, "reason": reason});
            if let Some(account) = account {
                body["account"] = json!(account);
            }
            let answer = Client::new(&api)?
                .send(Method::POST, &["v1", "elevations"], Some(body))
                .await?;
            if api.json {
                return Ok(answer.raw());
            }
            let binding: BindingView = answer.parse()?;
            let existing = answer.status == StatusCode::OK;
            Ok(output::elevated(&binding, existing, Utc::now()))
        }
        Responder::Incidents { all, api } => {
            let status = if all { "all" } else { "open" };
            let answer = Client::new(&api)?
                .get_query(&["v1", "incidents"], &[("status", status)])
                .await?;
            if api.json {
                return Ok(answer.raw());
            }
            let list: IncidentList = answer.parse()?;
            Ok(output::incidents(&list.incidents, all, Utc::now()))
        }
        Responder::Approve { binding, api } => {
            let answer = Client::new(&api)?
                .send(
                    Method::POST,
                    &["v1", "elevations", &binding, "approve"],
                    None,
                )
                .await?;
            if api.json {
                return Ok(answer.raw());
            }
            Ok(output::approved(&answer.parse()?, Utc::now()))
        }
        Responder::Status { binding, api } => {
            let answer = Client::new(&api)?
                .send(Method::GET, &["v1", "elevations", &binding], None)
                .await?;
            if api.json {
                return Ok(answer.raw());
            }
            Ok(output::status(&answer.parse()?, Utc::now()))
        }
        Responder::Revoke { binding, api } => {
            let answer = Client::new(&api)?
                .send(Method::DELETE, &["v1", "elevations", &binding], None)
                .await?;
            if api.json {
                return Ok(answer.raw());
            }
            Ok(output::revoked(&answer.parse()?, Utc::now()))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn elevate_takes_the_common_flags_and_keeps_the_token_out_of_debug_output() {
        let cli = Cli::try_parse_from([
            "breakglass",
            "elevate",
            "--incident",
            "pagerduty:PFQZPSY",
            "--role",
            "prod-db-read",
            "--duration",
            "30m",
            "--reason",
            "replica lag",
            "--server",
            "http://bg.internal:8080",
            "--token",
            "s3cret-token",
            "--json",
        ])
        .unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("s3cret-token"), "{debug}");
        let Command::Responder(Responder::Elevate { api, .. }) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(api.server, "http://bg.internal:8080");
        assert!(api.json);
        assert_eq!(api.token.unwrap().expose(), "s3cret-token");
    }

    #[test]
    fn revoke_approve_and_status_take_the_binding_id_as_an_argument() {
        for verb in ["revoke", "approve", "status"] {
            let cli = Cli::try_parse_from(["breakglass", verb, "0abcdefghijklmno"]).unwrap();
            let binding = match cli.command {
                Command::Responder(
                    Responder::Revoke { binding, .. }
                    | Responder::Approve { binding, .. }
                    | Responder::Status { binding, .. },
                ) => binding,
                other => panic!("{verb} parsed as {other:?}"),
            };
            assert_eq!(binding, "0abcdefghijklmno");
        }
    }
}
