//! `breakglass audit verify`: check the audit trail's hash chain and seals, in Redis or in
//! archive files. Exit 0 if it holds, 1 if it is broken (the report says where), 2 if it could
//! not be checked. The checks are [`crate::audit::verify`]'s and [`crate::audit::archive`]'s.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{load, operator_store, Failure};
use crate::audit::chain::Keys;

/// What a verification found, once it could look at everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds: exit 0.
    Intact,
    /// At least one link is broken, named in the report: exit 1.
    Broken,
}

impl Verdict {
    fn of(intact: bool) -> Self {
        if intact {
            Verdict::Intact
        } else {
            Verdict::Broken
        }
    }
}

/// Verify every shard's chain in Redis; the summary (or with `json`, the whole report) on
/// `out`.
pub fn verify(path: &Path, json: bool, out: &mut impl Write) -> Result<Verdict, Failure> {
    let (config, store, runtime) = operator_store(path)?;
    let keys = Keys::from_config(&config.audit);
    let report = runtime
        .block_on(crate::audit::verify::verify_with(&store, &keys))
        .map_err(|e| Failure::unverifiable(format!("cannot verify the audit trail: {e}")))?;
    // The verdict is the exit code; a closed pipe does not change it.
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )
    } else {
        write!(out, "{}", crate::audit::verify::summary(&report))
    };
    Ok(Verdict::of(report.is_intact()))
}

/// Verify archive files (from `audit archive`) instead of Redis, with the config's `[audit]`
/// keys.
pub fn verify_files(
    path: &Path,
    files: &[PathBuf],
    json: bool,
    out: &mut impl Write,
) -> Result<Verdict, Failure> {
    let config = load(path)?;
    let keys = Keys::from_config(&config.audit);
    let report = crate::audit::archive::verify_files(files, &keys)
        .map_err(|e| Failure::unverifiable(format!("cannot read the archive: {e}")))?;
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )
    } else if let Some(b) = &report.broken {
        writeln!(out, "BROKEN: {b}")
    } else {
        writeln!(out, "ok: {} archived events verified", report.events)
    };
    Ok(Verdict::of(report.broken.is_none()))
}
