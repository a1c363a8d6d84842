//! `breakglass audit archive`: write every sealed audit event older than a time to one NDJSON
//! file per shard and, with `--trim`, remove them from Redis. The work is
//! [`crate::audit::archive`]'s; this is the command around it.

use std::io::Write;
use std::path::Path;

use super::{operator_store, Failure};
use crate::audit::{archive::archive_shard, chain::Keys, verify::verify_with};
use crate::store::SHARDS;

/// Archive the events recorded before `before` (RFC 3339) into `dir`, one line per shard on
/// `out`, and the total at the end. Nothing is archived unless every shard's chain holds.
pub fn archive(
    path: &Path,
    before: &str,
    dir: &Path,
    trim: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let before = match chrono::DateTime::parse_from_rfc3339(before) {
        Ok(t) if t.timestamp_millis() > 0 => t.timestamp_millis() as u64,
        _ => {
            return Err(Failure::new(format!(
                "--before `{before}` is not an RFC 3339 time such as 2026-01-01T00:00:00Z"
            )))
        }
    };
    let (config, store, runtime) = operator_store(path)?;
    // Every shard's chain must hold before any is archived: a break is for a person to look
    // at, and trimming around it would destroy the evidence.
    let keys = Keys::from_config(&config.audit);
    match runtime.block_on(verify_with(&store, &keys)) {
        Ok(report) if report.is_intact() => {}
        Ok(report) => {
            let first = report
                .broken()
                .next()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(Failure::new(format!(
                "the audit chain is broken ({first}); nothing archived. Run `breakglass audit verify` and investigate first"
            )));
        }
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot verify the audit trail before archiving: {e}"
            )))
        }
    }
    let mut archived = 0u64;
    for shard in 0..SHARDS {
        let done = runtime.block_on(archive_shard(&store, shard, before, dir, &keys, trim));
        match done {
            Ok(Some(a)) => {
                archived += a.events;
                // Progress only: the files are the product, so a closed pipe stops nothing.
                let _ = writeln!(
                    out,
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
            Err(e) => return Err(Failure::new(format!("archive stopped: {e}"))),
        }
    }
    let _ = writeln!(out, "{archived} events archived");
    Ok(())
}
