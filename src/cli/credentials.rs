//! `breakglass credentials`: AWS `credential_process` output for a breakglass role, so that
//! `aws --profile incident-prod ...` just works.
//!
//! It reuses the caller's live binding of the incident, role and account (the service answers a
//! repeated request with the binding it already made), or asks for one when `--reason` is given,
//! or prompted for on a terminal; it never prompts when standard input is not a terminal (the
//! AWS CLI runs it that way). Then it assumes the role with the caller's own AWS credentials
//! (the standard chain, or `--source-profile`) and prints the session as
//! `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}`.
//!
//! The session is cached (a file readable only by its owner, under the user's cache folder) and
//! handed out again until 15 minutes before it ends, the point at which the AWS CLI asks for new
//! credentials anyway; before reuse, the binding is read again, so a revoked binding is never
//! served from the cache.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use aws_config::BehaviorVersion;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::client::{CliError, Client};
use super::output::BindingView;
use super::ApiArgs;

/// A cached session is handed out until this long before it ends.
const REUSE_MARGIN_MINUTES: i64 = 15;
/// STS takes sessions of 15 minutes to an hour when one role session assumes another.
const MIN_SESSION_SECS: i64 = 900;
const MAX_SESSION_SECS: i64 = 3600;

#[derive(Debug, Args)]
pub struct CredentialsArgs {
    /// The incident, as `<source>:<id>`, e.g. pagerduty:PFQZPSY.
    #[arg(long, value_name = "ID")]
    incident: String,
    /// The role from the catalogue, e.g. prod-db-read.
    #[arg(long, value_name = "NAME")]
    role: String,
    /// The AWS account, by its catalogue name; needed when the role has several.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Why you need it, when no binding is live yet (asked for on a terminal if left out).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// How long a new binding lasts: 90s, 30m, 1h, or a number of seconds.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    duration: String,
    /// The AWS profile whose credentials assume the role; the standard chain if left out.
    #[arg(long, value_name = "PROFILE")]
    source_profile: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

/// A session as `credential_process` prints it, and as the cache keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Session {
    version: u8,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: DateTime<Utc>,
    /// The binding it belongs to (the cache only; left out of the printed JSON).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    binding: String,
}

pub async fn run(args: CredentialsArgs) -> Result<String, CliError> {
    let client = Client::new(&args.api)?;
    let cache = cache_file(&args);
    let now = Utc::now();
    if let Some(cached) = cache.as_ref().and_then(|path| read_cached(path)) {
        if cached.expiration - now > Duration::minutes(REUSE_MARGIN_MINUTES) {
            let answer = client
                .send(Method::GET, &["v1", "elevations", &cached.binding], None)
                .await;
            if let Ok(binding) = answer.and_then(|a| a.parse::<BindingView>()) {
                if binding.status == "active" {
                    return Ok(printed(&cached));
                }
            }
        }
    }
    let binding = binding(&client, &args).await?;
    let session = assume(&args, &binding, now).await?;
    if let Some(path) = &cache {
        write_cached(path, &session);
    }
    Ok(printed(&session))
}

/// The caller's live binding, or a new one.
async fn binding(client: &Client, args: &CredentialsArgs) -> Result<BindingView, CliError> {
    let mut body = json!({"incident": args.incident, "role": args.role, "duration": args.duration});
    if let Some(account) = &args.account {
        body["account"] = json!(account);
    }
    let mut reason = args.reason.clone();
    loop {
        if let Some(reason) = &reason {
            body["reason"] = json!(reason);
        }
        let answer = client
            .send(Method::POST, &["v1", "elevations"], Some(body.clone()))
            .await;
        let needs_reason = matches!(&answer, Err(CliError::Api { code, .. }) if code == "invalid_request")
            && reason.is_none();
        if needs_reason {
            // No live binding, and none asked for: a reason is the one thing only a person gives.
            if !std::io::stdin().is_terminal() {
                return Err(CliError::Refused(format!(
                    "you hold no live binding of {} on {}; run this once with --reason \"...\" (or from a terminal) to ask for one",
                    args.role, args.incident
                )));
            }
            reason = Some(prompt_reason()?);
            continue;
        }
        let answer = answer?;
        let binding: BindingView = answer.parse()?;
        return match binding.status.as_str() {
            "active" => Ok(binding),
            "pending_approval" => Err(CliError::Refused(format!(
                "binding {} waits for approval: ask another responder of {} to run `breakglass approve {}`",
                binding.id, binding.incident, binding.id
            ))),
            other if answer.status == StatusCode::OK || answer.status == StatusCode::CREATED => {
                Err(CliError::Refused(format!(
                    "binding {} is {other}: {}",
                    binding.id,
                    binding.last_error.as_deref().unwrap_or("not usable")
                )))
            }
            other => Err(CliError::Refused(format!("binding {} is {other}", binding.id))),
        };
    }
}

fn prompt_reason() -> Result<String, CliError> {
    eprint!("Reason for the access (goes into the audit trail): ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::Refused(format!("cannot read the reason: {e}")))?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err(CliError::Refused("a reason is required".into()));
    }
    Ok(line)
}

/// Assume the binding's role with the caller's own credentials, for as long as the binding
/// has left (15 minutes to an hour).
async fn assume(
    args: &CredentialsArgs,
    binding: &BindingView,
    now: DateTime<Utc>,
) -> Result<Session, CliError> {
    let role_arn = binding
        .role_arn
        .clone()
        .ok_or_else(|| CliError::Refused(format!("binding {} has no role yet", binding.id)))?;
    let left = binding
        .expires_at
        .map_or(MAX_SESSION_SECS, |e| (e - now).num_seconds());
    let seconds = left.clamp(MIN_SESSION_SECS, MAX_SESSION_SECS);
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &args.source_profile {
        loader = loader.profile_name(profile);
    }
    let sdk = loader.load().await;
    let failed = |reason: String| {
        CliError::Refused(format!(
            "cannot assume {role_arn} with your AWS credentials (the standard chain, or --source-profile): {reason}"
        ))
    };
    let out = aws_sdk_sts::Client::new(&sdk)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name(session_name(&binding.subject))
        .duration_seconds(seconds as i32)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_sts::error::DisplayErrorContext(e).to_string()))?;
    let c = out
        .credentials()
        .ok_or_else(|| failed("STS answered without credentials".into()))?;
    let expiration = DateTime::<Utc>::from_timestamp(c.expiration().secs(), 0)
        .ok_or_else(|| failed("STS answered an unreadable expiration".into()))?;
    // The binding's end bounds the session too (its policies say so; the cache should know).
    let expiration = binding.expires_at.map_or(expiration, |e| e.min(expiration));
    Ok(Session {
        version: 1,
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: c.session_token().to_owned(),
        expiration,
        binding: binding.id.clone(),
    })
}

/// The session name: the holder's email in STS's characters (what CloudTrail shows).
fn session_name(subject: &str) -> String {
    let name: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.len() < 2 {
        "breakglass".into()
    } else {
        name
    }
}

fn printed(session: &Session) -> String {
    let shown = Session {
        binding: String::new(),
        ..session.clone()
    };
    let mut text = serde_json::to_string(&shown).unwrap_or_default();
    text.push('\n');
    text
}

/// One cache file per service, incident, role, account and source profile, under
/// `$XDG_CACHE_HOME/breakglass/credentials` (or `~/.cache/...`); `None` without a home.
fn cache_file(args: &CredentialsArgs) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let key = [
        args.api.server.as_str(),
        &args.incident,
        &args.role,
        args.account.as_deref().unwrap_or(""),
        args.source_profile.as_deref().unwrap_or(""),
    ]
    .join("\n");
    let name = hex::encode(Sha256::digest(key.as_bytes()));
    Some(
        base.join("breakglass/credentials")
            .join(format!("{name}.json")),
    )
}

fn read_cached(path: &std::path::Path) -> Option<Session> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Best effort: a cache that cannot be written only costs an AssumeRole next time.
fn write_cached(path: &std::path::Path, session: &Session) {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let Some(dir) = path.parent() else { return };
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    let Ok(text) = serde_json::to_vec(session) else {
        return;
    };
    let tmp = path.with_extension("tmp");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&text));
    if written.is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_json_is_what_credential_process_reads() {
        let s = Session {
            version: 1,
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: DateTime::parse_from_rfc3339("2026-12-05T04:30:00Z")
                .unwrap()
                .into(),
            binding: "3abcdefgh2345677".into(),
        };
        let printed: serde_json::Value = serde_json::from_str(&printed(&s)).unwrap();
        assert_eq!(
            printed,
            json!({"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret",
                   "SessionToken": "token", "Expiration": "2026-12-05T04:30:00Z"})
        );
    }

    #[test]
    fn session_names_keep_to_sts_characters() {
        assert_eq!(session_name("alice@example.com"), "alice@example.com");
        assert_eq!(session_name("a b/c"), "a-b-c");
        assert_eq!(session_name("x"), "breakglass");
        assert_eq!(session_name(&"a".repeat(80)).len(), 64);
    }
}
