//! The `breakglass` binary: parse the command line and hand over to the library. The operator
//! commands are [`breakglass::ops`]; the responder commands are HTTP clients of a running
//! service ([`cli`]).
#![forbid(unsafe_code)]

mod cli;

use std::io::Write;
use std::process::ExitCode;

use breakglass::ops::{self, Failure, Verdict};
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let mut out = std::io::stdout();
    match cli.command {
        cli::Command::Serve { config } => done(ops::serve(&config)),
        cli::Command::CheckConfig { config } => done(ops::check_config(&config, &mut out)),
        cli::Command::HashToken => done(ops::hash_token(&mut std::io::stdin(), &mut out)),
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
        }) if !archive.is_empty() => verdict(ops::verify_files(&config, &archive, json, &mut out)),
        cli::Command::Audit(cli::Audit::Verify { config, json, .. }) => {
            verdict(ops::verify(&config, json, &mut out))
        }
        cli::Command::Audit(cli::Audit::Archive {
            config,
            before,
            dir,
            trim,
        }) => done(ops::archive(&config, &before, &dir, trim, &mut out)),
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

/// The exit of an operator command that either did its job or failed.
fn done(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failed(failure),
    }
}

/// The exit of a verification: 0 intact, 1 broken, else the failure's code.
fn verdict(result: Result<Verdict, Failure>) -> ExitCode {
    match result {
        Ok(Verdict::Intact) => ExitCode::SUCCESS,
        Ok(Verdict::Broken) => ExitCode::from(1),
        Err(failure) => failed(failure),
    }
}

fn failed(failure: Failure) -> ExitCode {
    eprintln!("breakglass: {}", failure.message);
    ExitCode::from(failure.code)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("breakglass: {message}");
    ExitCode::FAILURE
}
