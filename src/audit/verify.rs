//! `breakglass audit verify`: walk every shard's audit stream beside its seal stream,
//! recompute the chain, and name the first broken link of each shard.
//!
//! What each check catches:
//! - `seq` not one more than the previous entry's: entries deleted (or inserted) there.
//! - a seal whose entry is gone: that entry was deleted.
//! - a digest that differs from its seal's: that entry (or the order of entries) was altered.
//! - a seal that the key does not check: the seal was forged or rewritten (someone recomputed
//!   digests after altering history), or the key is not the one the service seals with.
//! - the shard's sequence counter ahead of its newest entry: the newest entries were deleted.
//! - an unsealed entry followed by sealed ones: an entry was slipped in after sealing.
//!
//! Entries newer than the newest seal are reported as not sealed yet; they are not a break.

use serde::Serialize;

use super::chain::{self, Digest, RawEntry};
use super::sealer::SealError;
use crate::secret::Secret;
use crate::store::{Store, SHARDS};

const PAGE: usize = 1000;

/// The first broken link of a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub shard: u16,
    /// The stream id where the chain breaks.
    pub id: String,
    /// The sequence number expected there.
    pub seq: u64,
    pub what: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shard {} entry {} (seq {}): {}",
            self.shard, self.id, self.seq, self.what
        )
    }
}

/// What verifying one shard found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShardReport {
    pub shard: u16,
    /// Entries whose digest matched their seal (and whose seal the key checked).
    pub sealed: u64,
    /// Entries after the newest seal.
    pub unsealed: u64,
    /// The newest sequence number seen.
    pub last_seq: u64,
    /// The chain head: the newest sealed entry's digest (hex).
    pub head: Option<String>,
    /// Where the chain starts when older entries were archived and trimmed: the last archived
    /// sequence number.
    pub archived_through: Option<u64>,
    pub broken: Option<Break>,
}

/// What verifying every shard found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub keyed: bool,
    pub shards: Vec<ShardReport>,
}

impl Report {
    pub fn broken(&self) -> impl Iterator<Item = &Break> {
        self.shards.iter().filter_map(|s| s.broken.as_ref())
    }

    pub fn is_intact(&self) -> bool {
        self.broken().next().is_none()
    }

    pub fn sealed(&self) -> u64 {
        self.shards.iter().map(|s| s.sealed).sum()
    }

    pub fn unsealed(&self) -> u64 {
        self.shards.iter().map(|s| s.unsealed).sum()
    }
}

/// The report in words: one line per shard that has events, then the verdict.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    for s in report
        .shards
        .iter()
        .filter(|s| s.last_seq > 0 || s.broken.is_some())
    {
        out.push_str(&format!(
            "shard {:>2}: {} sealed, {} not sealed yet, last seq {}{}{}\n",
            s.shard,
            s.sealed,
            s.unsealed,
            s.last_seq,
            match s.archived_through {
                Some(n) => format!(", seq 1..{n} archived"),
                None => String::new(),
            },
            match &s.broken {
                Some(_) => ", BROKEN",
                None => "",
            }
        ));
    }
    for b in report.broken() {
        out.push_str(&format!("BROKEN: {b}\n"));
    }
    if !report.keyed {
        out.push_str("note: no [audit] key in the config, so seals were not checked; digests only detect edits by someone who did not recompute them\n");
    }
    if report.is_intact() {
        out.push_str(&format!(
            "ok: {} events verified, {} not sealed yet\n",
            report.sealed(),
            report.unsealed()
        ));
    }
    out
}

/// Verify every shard.
pub async fn verify(store: &Store, key: Option<&Secret>) -> Result<Report, SealError> {
    verify_with(store, &chain::Keys::single(key)).await
}

/// Verify every shard, accepting seals of the current key and of earlier ones.
pub async fn verify_with(store: &Store, keys: &chain::Keys) -> Result<Report, SealError> {
    let mut report = Report {
        keyed: keys.keyed(),
        shards: Vec::new(),
    };
    for shard in 0..SHARDS {
        report.shards.push(verify_shard(store, shard, keys).await?);
    }
    Ok(report)
}

async fn range(
    store: &Store,
    key: &str,
    after: &str,
) -> Result<Vec<RawEntry>, crate::store::StoreError> {
    super::entries_after(store, key, after, PAGE).await
}

/// Verify one shard.
pub async fn verify_shard(
    store: &Store,
    shard: u16,
    keys: &chain::Keys,
) -> Result<ShardReport, SealError> {
    let anchor = super::archive::anchor(store, shard).await?;
    if let (Some(a), true) = (&anchor, keys.keyed()) {
        let ok = a.seal.as_deref().is_some_and(|m| keys.checks(&a.digest, m));
        if !ok {
            return Ok(ShardReport {
                shard,
                last_seq: a.seq,
                archived_through: Some(a.seq),
                broken: Some(Break {
                    shard,
                    id: a.id.clone(),
                    seq: a.seq,
                    what: "the archival anchor's seal does not check with the [audit] key: forged"
                        .into(),
                }),
                ..ShardReport::default()
            });
        }
    }
    let (mut prev, mut expected, start) = match &anchor {
        Some(a) => (a.digest, a.seq + 1, a.id.clone()),
        None => (chain::GENESIS, 1, "0-0".to_string()),
    };
    let mut walk = Walk {
        shard,
        keys: keys.keyed().then(|| keys.clone()),
        report: ShardReport {
            shard,
            last_seq: expected - 1,
            archived_through: anchor.as_ref().map(|a| a.seq),
            ..ShardReport::default()
        },
        first_unsealed: None,
    };
    let audit_key = super::stream_key(store, shard);
    let seal_key = super::seal_key(store, shard);
    let (mut audit_after, mut seal_after) = (start.clone(), start);
    let mut audit: std::collections::VecDeque<RawEntry> = Default::default();
    let mut seals: std::collections::VecDeque<RawEntry> = Default::default();
    let (mut audit_done, mut seals_done) = (false, false);
    // A seal newer than the last audit page read may seal an entry appended since: read on.
    let mut reread = false;
    loop {
        if audit.is_empty() && !audit_done {
            let page = range(store, &audit_key, &audit_after).await?;
            audit_done = page.len() < PAGE;
            if let Some(last) = page.last() {
                audit_after = last.id.clone();
            }
            audit.extend(page);
        }
        if seals.is_empty() && !seals_done {
            let page = range(store, &seal_key, &seal_after).await?;
            seals_done = page.len() < PAGE;
            if let Some(last) = page.last() {
                seal_after = last.id.clone();
            }
            seals.extend(page);
        }
        let step = match (audit.front(), seals.front()) {
            (None, None) => break,
            (Some(e), Some(s)) => match order(&e.id).cmp(&order(&s.id)) {
                std::cmp::Ordering::Less => Step::Unsealed,
                std::cmp::Ordering::Equal => Step::Sealed,
                std::cmp::Ordering::Greater => Step::SealOnly,
            },
            (Some(_), None) => Step::Unsealed,
            (None, Some(_)) => Step::SealOnly,
        };
        let outcome = match step {
            Step::SealOnly if audit.is_empty() && audit_done && !reread => {
                reread = true;
                audit_done = false;
                continue;
            }
            Step::SealOnly => {
                let s = seals.pop_front().expect("matched above");
                Err(Break {
                    shard,
                    id: s.id,
                    seq: expected,
                    what: "the entry is gone but its seal remains: deleted".into(),
                })
            }
            Step::Unsealed => {
                let e = audit.pop_front().expect("matched above");
                walk.entry(&e, None, &mut prev, &mut expected)
            }
            Step::Sealed => {
                reread = false;
                let e = audit.pop_front().expect("matched above");
                let s = seals.pop_front().expect("matched above");
                walk.entry(&e, Some(&s), &mut prev, &mut expected)
            }
        };
        if let Err(b) = outcome {
            walk.report.broken = Some(b);
            return Ok(walk.report);
        }
    }
    // The counter moves with every append: ahead of the newest entry means entries were cut
    // from the end.
    let mut conn = store.conn();
    let counter: Option<u64> = store
        .run(
            redis::cmd("GET")
                .arg(super::seq_key(store, shard))
                .query_async(&mut conn),
        )
        .await?;
    let counter = counter.unwrap_or(0);
    if counter != walk.report.last_seq {
        walk.report.broken = Some(Break {
            shard,
            id: "(end)".into(),
            seq: walk.report.last_seq + 1,
            what: if counter > walk.report.last_seq {
                format!(
                    "the sequence counter is at {counter} but the newest entry is seq {}: the newest entries were deleted",
                    walk.report.last_seq
                )
            } else {
                format!(
                    "the sequence counter is at {counter}, behind the newest entry seq {}: it was rewound",
                    walk.report.last_seq
                )
            },
        });
    }
    Ok(walk.report)
}

enum Step {
    Sealed,
    Unsealed,
    SealOnly,
}

fn order(id: &str) -> (u64, u64) {
    super::export::StreamId::parse(id)
        .map(|s| (s.ms, s.seq))
        .unwrap_or((u64::MAX, u64::MAX))
}

struct Walk {
    shard: u16,
    keys: Option<chain::Keys>,
    report: ShardReport,
    first_unsealed: Option<(String, u64)>,
}

impl Walk {
    fn entry(
        &mut self,
        e: &RawEntry,
        seal: Option<&RawEntry>,
        prev: &mut Digest,
        expected: &mut u64,
    ) -> Result<(), Break> {
        let brk = |id: &str, seq: u64, what: String| Break {
            shard: self.shard,
            id: id.to_owned(),
            seq,
            what,
        };
        match e.seq() {
            Some(seq) if seq == *expected => {}
            Some(seq) if seq > *expected => {
                return Err(brk(
                    &e.id,
                    *expected,
                    format!(
                    "entries seq {expected}..{} are missing before this one (seq {seq}): deleted",
                    seq - 1
                ),
                ))
            }
            Some(seq) => {
                return Err(brk(
                    &e.id,
                    *expected,
                    format!("seq {seq} repeats or goes backwards: an entry was inserted"),
                ))
            }
            None => {
                return Err(brk(
                    &e.id,
                    *expected,
                    "the entry has no valid `seq` field: altered".into(),
                ))
            }
        }
        let digest = chain::digest(prev, self.shard, e);
        match seal {
            None => {
                if self.first_unsealed.is_none() {
                    self.first_unsealed = Some((e.id.clone(), *expected));
                }
                self.report.unsealed += 1;
            }
            Some(s) => {
                if let Some((id, seq)) = self.first_unsealed.take() {
                    return Err(brk(
                        &id,
                        seq,
                        "this entry has no seal but later entries do: inserted after sealing"
                            .into(),
                    ));
                }
                if s.text("h") != Some(hex::encode(digest).as_str()) {
                    return Err(brk(
                        &e.id,
                        *expected,
                        "its digest differs from its seal: the entry, or one before it, was altered"
                            .into(),
                    ));
                }
                if let Some(keys) = &self.keys {
                    if !s.text("m").is_some_and(|m| keys.checks(&digest, m)) {
                        return Err(brk(
                            &e.id,
                            *expected,
                            "its seal does not check with the [audit] key: forged, or sealed with another key"
                                .into(),
                        ));
                    }
                }
                self.report.sealed += 1;
                self.report.head = Some(hex::encode(digest));
            }
        }
        *prev = digest;
        self.report.last_seq = *expected;
        *expected += 1;
        Ok(())
    }
}
