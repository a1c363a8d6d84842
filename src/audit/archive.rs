//! Archival: old audit entries written out to NDJSON files, and optionally trimmed from Redis,
//! leaving an anchor where the chain continues.

use super::chain::{self, Digest};
use crate::store::{Store, StoreError};

/// `audit.archived`: a shard's entries up to `last_seq` went to `file` and left Redis; the
/// first entry after them is chained to `last_hash` through the shard's anchor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trimmed {
    pub shard: u16,
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_id: String,
    pub last_hash: String,
    pub events: u64,
    pub file: Option<String>,
    pub sha256: String,
}

impl super::Payload for Trimmed {
    const KIND: &'static str = "audit.archived";
}

/// Where a shard's chain starts after archival: the last archived entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub id: String,
    pub digest: Digest,
    /// The archived entry's seal (hex), when the trail was keyed.
    pub seal: Option<String>,
}

/// A shard's anchor, if it was ever trimmed.
pub async fn anchor(store: &Store, shard: u16) -> Result<Option<Anchor>, StoreError> {
    let key = super::anchor_key(store, shard);
    let mut conn = store.conn();
    let (seq, id, h, m): (Option<u64>, Option<String>, Option<String>, Option<String>) = store
        .run(
            redis::cmd("HMGET")
                .arg(&key)
                .arg("seq")
                .arg("id")
                .arg("h")
                .arg("m")
                .query_async(&mut conn),
        )
        .await?;
    match (seq, id, h) {
        (None, None, None) => Ok(None),
        (Some(seq), Some(id), Some(h)) => match chain::parse_digest(&h) {
            Some(digest) => Ok(Some(Anchor {
                seq,
                id,
                digest,
                seal: m.filter(|m| !m.is_empty()),
            })),
            None => Err(StoreError::Corrupt {
                key,
                reason: "field `h` is not a 64-digit hex digest".into(),
            }),
        },
        _ => Err(StoreError::Corrupt {
            key,
            reason: "an anchor needs `seq`, `id` and `h`".into(),
        }),
    }
}

/// What archiving one shard did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Archived {
    pub shard: u16,
    /// Entries written to the file.
    pub events: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub file: std::path::PathBuf,
    /// SHA-256 of the file (hex).
    pub sha256: String,
    /// Whether the entries were trimmed from Redis after the file was safely written.
    pub trimmed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] super::sealer::SealError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("shard {shard}: the chain is broken at {at}; run `breakglass audit verify` and investigate before archiving")]
    Broken { shard: u16, at: String },
    #[error("shard {shard}: the last archived entry changed while archiving; nothing was trimmed, run the archive again")]
    Changed { shard: u16 },
}

/// One archived line: the entry exactly as stored (so the chain can be recomputed from the file
/// alone), its digest, the digest before it and its seal.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub shard: u16,
    pub id: String,
    pub fields: std::collections::BTreeMap<String, String>,
    pub prev_hash: String,
    pub hash: String,
    pub seal: Option<String>,
}

/// Write every sealed entry of `shard` older than `before_ms` to an NDJSON file in `dir`
/// (created; fsynced), checking the chain on the way; then, if `trim`, remove them from Redis,
/// leaving an anchor and an `audit.archived` event. Returns `None` when nothing is that old.
pub async fn archive_shard(
    store: &Store,
    shard: u16,
    before_ms: u64,
    dir: &std::path::Path,
    keys: &chain::Keys,
    trim: bool,
) -> Result<Option<Archived>, ArchiveError> {
    use std::io::Write as _;

    let start = anchor(store, shard).await?;
    let (mut prev, mut after, mut expected) = match &start {
        Some(a) => (a.digest, a.id.clone(), a.seq + 1),
        None => (chain::GENESIS, "0-0".to_string(), 1),
    };
    let first_seq = expected;
    let end = format!("{}", before_ms.saturating_sub(1));
    let tmp = dir.join(format!(".audit-shard{shard:02}.partial"));
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let mut last: Option<(String, u64, chain::Digest, Option<String>)> = None;
    let mut events = 0u64;
    'pages: loop {
        let mut conn = store.conn();
        let mut pipe = redis::pipe();
        for k in [
            super::stream_key(store, shard),
            super::seal_key(store, shard),
        ] {
            pipe.cmd("XRANGE")
                .arg(k)
                .arg(format!("({after}"))
                .arg(&end)
                .arg("COUNT")
                .arg(500);
        }
        let (entries, seals): (
            redis::streams::StreamRangeReply,
            redis::streams::StreamRangeReply,
        ) = store.run(pipe.query_async(&mut conn)).await?;
        if entries.ids.is_empty() {
            break;
        }
        let seals: std::collections::HashMap<&str, chain::RawEntry> = seals
            .ids
            .iter()
            .map(|s| (s.id.as_str(), chain::RawEntry::from_stream(s)))
            .collect();
        for item in &entries.ids {
            let raw = chain::RawEntry::from_stream(item);
            // Only what is sealed is archived: the newest entries wait for the next run.
            let Some(seal) = seals.get(item.id.as_str()) else {
                break 'pages;
            };
            let digest = chain::digest(&prev, shard, &raw);
            let sealed_ok = raw.seq() == Some(expected)
                && seal.text("h") == Some(hex::encode(digest).as_str())
                && (!keys.keyed() || seal.text("m").is_some_and(|m| keys.checks(&digest, m)));
            if !sealed_ok {
                return Err(ArchiveError::Broken {
                    shard,
                    at: item.id.clone(),
                });
            }
            let line = Line {
                shard,
                id: item.id.clone(),
                fields: raw
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
                prev_hash: hex::encode(prev),
                hash: hex::encode(digest),
                seal: seal.text("m").map(str::to_owned),
            };
            let mut text = serde_json::to_vec(&line).expect("a line is strings");
            text.push(b'\n');
            sha2::Digest::update(&mut hasher, &text);
            out.write_all(&text).map_err(io(&tmp))?;
            events += 1;
            last = Some((item.id.clone(), expected, digest, line.seal));
            prev = digest;
            after = item.id.clone();
            expected += 1;
        }
    }
    let Some((last_id, last_seq, last_digest, last_seal)) = last else {
        drop(out);
        let _ = std::fs::remove_file(&tmp);
        return Ok(None);
    };
    let file = out.into_inner().map_err(|e| ArchiveError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    let name = dir.join(format!(
        "audit-{}-shard{shard:02}-seq{first_seq:09}-{last_seq:09}.ndjson",
        store.prefix()
    ));
    std::fs::rename(&tmp, &name).map_err(io(&name))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    let sha256 = hex::encode(sha2::Digest::finalize(hasher));
    if trim {
        let next = super::export::StreamId::parse(&last_id)
            .and_then(super::export::StreamId::next)
            .map(|s| s.to_string())
            .unwrap_or_else(|| last_id.clone());
        let archived = Trimmed {
            shard,
            first_seq,
            last_seq,
            last_id: last_id.clone(),
            last_hash: hex::encode(last_digest),
            events,
            file: name.file_name().map(|n| n.to_string_lossy().into_owned()),
            sha256: sha256.clone(),
        };
        let origin = super::Origin {
            actor: "breakglass:archive".into(),
            source: "cli".into(),
        };
        let event = super::Event::loose(&origin, None, None, &archived);
        let script = super::script(include_str!("trim.lua"));
        let mut inv = script.prepare_invoke();
        inv.key(super::stream_key(store, shard))
            .key(super::seal_key(store, shard))
            .key(super::anchor_key(store, shard))
            .arg(&last_id)
            .arg(last_seq)
            .arg(hex::encode(last_digest))
            .arg(last_seal.unwrap_or_default())
            .arg(next)
            .arg(super::encode(&[event], chrono::Utc::now()));
        let mut conn = store.conn();
        let reply: String = store.run(inv.invoke_async(&mut conn)).await?;
        if reply != "ok" {
            return Err(ArchiveError::Changed { shard });
        }
    }
    Ok(Some(Archived {
        shard,
        events,
        first_seq,
        last_seq,
        file: name,
        sha256,
        trimmed: trim,
    }))
}

/// What checking archive files found: per shard, the events checked and the last hash.
#[derive(Debug, Default, serde::Serialize)]
pub struct FilesReport {
    pub events: u64,
    pub broken: Option<String>,
}

/// Recompute the chain of archive files (given in any order): each shard's files must join up
/// (each file's first `prev_hash` is the previous file's last `hash`), every digest must match
/// its entry, and every seal must check with `key`.
pub fn verify_files(
    files: &[std::path::PathBuf],
    keys: &chain::Keys,
) -> Result<FilesReport, std::io::Error> {
    use std::io::BufRead as _;

    let mut lines: Vec<(u16, u64, String, Line)> = Vec::new();
    let mut report = FilesReport::default();
    for path in files {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        for (n, line) in file.lines().enumerate() {
            let line = line?;
            match serde_json::from_str::<Line>(&line) {
                Ok(l) => {
                    let seq = l
                        .fields
                        .get("seq")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    lines.push((l.shard, seq, format!("{}:{}", path.display(), n + 1), l));
                }
                Err(e) => {
                    report.broken = Some(format!(
                        "{}:{}: not an archive line: {e}",
                        path.display(),
                        n + 1
                    ));
                    return Ok(report);
                }
            }
        }
    }
    lines.sort_by_key(|(shard, seq, _, _)| (*shard, *seq));
    let mut last: Option<(u16, u64, String)> = None;
    for (shard, seq, place, l) in &lines {
        let joined = match &last {
            Some((s, q, h)) if s == shard => *seq == q + 1 && &l.prev_hash == h,
            _ => true,
        };
        let raw = chain::RawEntry {
            id: l.id.clone(),
            fields: l
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
                .collect(),
        };
        let prev = chain::parse_digest(&l.prev_hash).unwrap_or([0xff; 32]);
        let digest = chain::digest(&prev, *shard, &raw);
        let problem = if !joined {
            Some("does not follow the line before it in its shard (missing or reordered lines)")
        } else if hex::encode(digest) != l.hash {
            Some("its digest does not match its content: altered")
        } else if keys.keyed() && !l.seal.as_deref().is_some_and(|m| keys.checks(&digest, m)) {
            Some("its seal does not check with the [audit] key")
        } else {
            None
        };
        if let Some(p) = problem {
            report.broken = Some(format!(
                "{place} (shard {shard}, seq {seq}, id {}): {p}",
                l.id
            ));
            return Ok(report);
        }
        report.events += 1;
        last = Some((*shard, *seq, l.hash.clone()));
    }
    Ok(report)
}
