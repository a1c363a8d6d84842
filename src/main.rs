//! The `breakglass` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

mod cli;

use std::io::{Read, Write};
use std::process::ExitCode;

use breakglass::{App, Config};
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Serve { config } => {
            let logs = breakglass::telemetry::init();
            let result = breakglass::startup::load(&config)
                .map_err(|e| format!("invalid config {}: {e}", config.display()))
                .and_then(|config| {
                    let runtime = tokio::runtime::Runtime::new()
                        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
                    runtime
                        .block_on(serve(config))
                        .map_err(|e| format!("{e:#}"))
                });
            // Flush the queued log lines before the last word.
            drop(logs);
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        cli::Command::CheckConfig { config } => {
            // Everything `serve` reads before it listens, including a JWKS file.
            let checked = breakglass::startup::load(&config)
                .and_then(|c| breakglass::auth::ApiAuth::from_config(&c.auth).map(drop));
            match checked {
                Ok(()) => {
                    println!("{}: ok", config.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&format!("invalid config {}: {e}", config.display())),
            }
        }
        cli::Command::HashToken => {
            let mut token = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut token) {
                return fail(&format!("cannot read the token from standard input: {e}"));
            }
            let token = token.trim_end_matches(['\r', '\n']);
            if token.is_empty() {
                return fail(
                    "no token on standard input; try: printf %s \"$TOKEN\" | breakglass hash-token",
                );
            }
            println!("{}", breakglass::auth::token_digest_hex(token));
            ExitCode::SUCCESS
        }
        cli::Command::Audit(cli::Audit::Export {
            since,
            until,
            output,
            api,
        }) => match cli::export(since, until, output, api) {
            Ok(out) => {
                let _ = std::io::stderr().write_all(out.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        cli::Command::Audit(cli::Audit::Verify {
            config,
            json,
            archive,
        }) if !archive.is_empty() => verify_files(&config, &archive, json),
        cli::Command::Audit(cli::Audit::Verify { config, json, .. }) => verify(&config, json),
        cli::Command::Audit(cli::Audit::Archive {
            config,
            before,
            dir,
            trim,
        }) => archive(&config, &before, &dir, trim),
        cli::Command::Responder(command) => match cli::run(command) {
            Ok(out) => {
                // A closed pipe (`| head`) is not an error worth a panic.
                let _ = std::io::stdout().write_all(out.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
    }
}

/// The store of a config file, for the operator commands that read Redis directly.
fn operator_store(
    path: &std::path::Path,
) -> Result<(Config, breakglass::store::Store, tokio::runtime::Runtime), ExitCode> {
    let config = breakglass::startup::load(path)
        .map_err(|e| fail(&format!("invalid config {}: {e}", path.display())))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&format!("cannot start the async runtime: {e}")))?;
    let metrics = breakglass::metrics::Metrics::new();
    // The connection manager needs a runtime to be created in.
    let store = runtime
        .block_on(async {
            breakglass::store::Store::connect(&config.redis, metrics.redis_errors.clone())
        })
        .map_err(|e| fail(&format!("cannot use [redis] url: {e}")))?;
    Ok((config, store, runtime))
}

/// `breakglass audit archive`.
fn archive(path: &std::path::Path, before: &str, dir: &std::path::Path, trim: bool) -> ExitCode {
    let before = match chrono::DateTime::parse_from_rfc3339(before) {
        Ok(t) if t.timestamp_millis() > 0 => t.timestamp_millis() as u64,
        _ => {
            return fail(&format!(
                "--before `{before}` is not an RFC 3339 time such as 2026-01-01T00:00:00Z"
            ))
        }
    };
    let (config, store, runtime) = match operator_store(path) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Every shard's chain must hold before any is archived: a break is for a person to look
    // at, and trimming around it would destroy the evidence.
    let keys = breakglass::audit::chain::Keys::from_config(&config.audit);
    match runtime.block_on(breakglass::audit::verify::verify_with(&store, &keys)) {
        Ok(report) if report.is_intact() => {}
        Ok(report) => {
            let first = report
                .broken()
                .next()
                .map(ToString::to_string)
                .unwrap_or_default();
            return fail(&format!(
                "the audit chain is broken ({first}); nothing archived. Run `breakglass audit verify` and investigate first"
            ));
        }
        Err(e) => {
            return fail(&format!(
                "cannot verify the audit trail before archiving: {e}"
            ))
        }
    }
    let mut archived = 0u64;
    for shard in 0..breakglass::store::SHARDS {
        let done = runtime.block_on(breakglass::audit::archive::archive_shard(
            &store, shard, before, dir, &keys, trim,
        ));
        match done {
            Ok(Some(a)) => {
                archived += a.events;
                println!(
                    "shard {:>2}: seq {}..{} ({} events) -> {} sha256 {}{}",
                    a.shard,
                    a.first_seq,
                    a.last_seq,
                    a.events,
                    a.file.display(),
                    a.sha256,
                    if a.trimmed {
                        ", trimmed from Redis"
                    } else {
                        ""
                    }
                );
            }
            Ok(None) => {}
            Err(e) => return fail(&format!("archive stopped: {e}")),
        }
    }
    println!("{archived} events archived");
    ExitCode::SUCCESS
}

/// `breakglass audit verify --archive FILE...`.
fn verify_files(path: &std::path::Path, files: &[std::path::PathBuf], json: bool) -> ExitCode {
    let config = match breakglass::startup::load(path) {
        Ok(c) => c,
        Err(e) => return fail(&format!("invalid config {}: {e}", path.display())),
    };
    let report = match breakglass::audit::archive::verify_files(
        files,
        &breakglass::audit::chain::Keys::from_config(&config.audit),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("breakglass: cannot read the archive: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else if let Some(b) = &report.broken {
        println!("BROKEN: {b}");
    } else {
        println!("ok: {} archived events verified", report.events);
    }
    if report.broken.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `breakglass audit verify`: exit 0 if every shard's chain holds, 1 if one is broken, 2 if it
/// could not be checked.
fn verify(path: &std::path::Path, json: bool) -> ExitCode {
    let (config, store, runtime) = match operator_store(path) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let keys = breakglass::audit::chain::Keys::from_config(&config.audit);
    let report = runtime
        .block_on(breakglass::audit::verify::verify_with(&store, &keys))
        .map_err(|e| e.to_string());
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("breakglass: cannot verify the audit trail: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", breakglass::audit::verify::summary(&report));
    }
    if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    tracing::info!(addr = %app.addr(), "breakglass listening");
    let stop = app.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        stop.shutdown();
    });
    app.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("breakglass: {message}");
    ExitCode::FAILURE
}
