//! Reading a time range of the audit trail across every shard, in time order, without holding
//! the range in memory: each shard's stream is read with `XRANGE ... COUNT` in pages, and a
//! k-way merge holds at most one page per shard.
//!
//! Stream ids are `<ms>-<seq>`; entries are ordered by milliseconds, then shard, then sequence.
//! The merge itself ([`Merge`]) is pure and knows nothing of Redis; [`Export`] drives it.

use std::collections::VecDeque;

use serde::Serialize;

use crate::store::{Store, StoreError, SHARDS};

/// Entries fetched per `XRANGE` call (the page a shard holds at most).
pub const PAGE: usize = 500;

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The smallest id after this one (the next page's inclusive start).
    pub fn next(self) -> Option<Self> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(Self { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| Self { ms, seq: 0 }),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One audit event as the export writes it (one NDJSON line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    pub shard: u16,
    /// The shard's sequence number: one more than the shard's previous event.
    pub seq: Option<u64>,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: String,
    pub actor: String,
    pub source: String,
    pub incident: String,
    pub binding: String,
    /// The `data` field parsed as JSON (a string if it is not JSON).
    pub data: serde_json::Value,
    /// The chain digest of the shard's previous event (hex), when it is sealed.
    pub prev_hash: Option<String>,
    /// This event's chain digest (hex), once the sealer has sealed it.
    pub hash: Option<String>,
    #[serde(skip)]
    pub sid: StreamId,
}

impl Entry {
    /// The payload, if this entry is a `P`: the typed view a reader takes of an event, the same
    /// type its writer filled.
    pub fn decode<P: super::Payload>(&self) -> Option<P> {
        if self.kind != P::KIND {
            return None;
        }
        P::deserialize(&self.data).ok()
    }

    /// The merge order: time, then shard, then sequence.
    fn order(&self) -> (u64, u16, u64) {
        (self.sid.ms, self.shard, self.sid.seq)
    }
}

/// A k-way merge over per-shard pages. Before [`Merge::pop`] may answer, every shard that
/// [`Merge::needs`] must be fed its next page (an empty or short page ends that shard).
#[derive(Debug)]
pub struct Merge {
    pages: Vec<VecDeque<Entry>>,
    exhausted: Vec<bool>,
    page_size: usize,
}

impl Merge {
    pub fn new(shards: u16, page_size: usize) -> Self {
        Self {
            pages: (0..shards).map(|_| VecDeque::new()).collect(),
            exhausted: vec![false; usize::from(shards)],
            page_size,
        }
    }

    /// A shard whose page is used up and whose stream may hold more: fetch its next page.
    pub fn needs(&self) -> Option<u16> {
        (0..self.pages.len())
            .find(|&s| self.pages[s].is_empty() && !self.exhausted[s])
            .map(|s| s as u16)
    }

    /// The next page of a shard, in stream order. A page shorter than the page size is the
    /// shard's last.
    pub fn feed(&mut self, shard: u16, page: Vec<Entry>) {
        let s = usize::from(shard);
        if page.len() < self.page_size {
            self.exhausted[s] = true;
        }
        self.pages[s].extend(page);
    }

    /// The earliest entry across shards; `None` once every shard is done.
    ///
    /// # Panics
    /// If a shard still [`Merge::needs`] a page: the answer could be wrong.
    pub fn pop(&mut self) -> Option<Entry> {
        assert!(self.needs().is_none(), "a shard needs its next page first");
        let shard = self
            .pages
            .iter()
            .enumerate()
            .filter_map(|(s, p)| p.front().map(|e| (e.order(), s)))
            .min()?
            .1;
        self.pages[shard].pop_front()
    }
}

/// Turn one `XRANGE` entry into an [`Entry`].
pub fn entry(shard: u16, id: &str, field: impl Fn(&str) -> Option<String>) -> Option<Entry> {
    let sid = StreamId::parse(id)?;
    let raw = field("data").unwrap_or_default();
    let data = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
    Some(Entry {
        id: id.to_string(),
        shard,
        seq: field("seq").and_then(|s| s.parse().ok()),
        kind: field("type").unwrap_or_default(),
        at: field("at").unwrap_or_default(),
        actor: field("actor").unwrap_or_default(),
        source: field("source").unwrap_or_default(),
        incident: field("incident").unwrap_or_default(),
        binding: field("binding").unwrap_or_default(),
        data,
        prev_hash: None,
        hash: None,
        sid,
    })
}

/// An export of `[start, end]` (stream ids, both inclusive) across every shard.
pub struct Export {
    store: Store,
    merge: Merge,
    /// Per shard, where its next page starts.
    cursors: Vec<Option<StreamId>>,
    /// Per shard, the digest of the entry before the next page (once known).
    prev: Vec<Option<String>>,
    started: Vec<bool>,
    end: StreamId,
}

impl Export {
    pub fn new(store: Store, start: StreamId, end: StreamId) -> Self {
        Self {
            store,
            merge: Merge::new(SHARDS, PAGE),
            cursors: vec![Some(start); usize::from(SHARDS)],
            prev: vec![None; usize::from(SHARDS)],
            started: vec![false; usize::from(SHARDS)],
            end,
        }
    }

    /// The next entry in time order, fetching pages as the merge needs them.
    pub async fn next(&mut self) -> Result<Option<Entry>, StoreError> {
        while let Some(shard) = self.merge.needs() {
            let page = self.page(shard).await?;
            self.merge.feed(shard, page);
        }
        Ok(self.merge.pop())
    }

    async fn page(&mut self, shard: u16) -> Result<Vec<Entry>, StoreError> {
        let s = usize::from(shard);
        let Some(start) = self.cursors[s].filter(|c| *c <= self.end) else {
            return Ok(Vec::new());
        };
        let key = super::stream_key(&self.store, shard);
        let mut conn = self.store.conn();
        let reply: redis::streams::StreamRangeReply = self
            .store
            .run(
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(start.to_string())
                    .arg(self.end.to_string())
                    .arg("COUNT")
                    .arg(PAGE)
                    .query_async(&mut conn),
            )
            .await?;
        let seals = match (reply.ids.first(), reply.ids.last()) {
            (Some(first), Some(last)) => {
                let first_page = !self.started[s];
                self.started[s] = true;
                seals(&self.store, shard, &first.id, &last.id, first_page).await?
            }
            _ => Seals::default(),
        };
        if seals.before.is_some() {
            self.prev[s] = seals.before.clone();
        }
        let mut page = Vec::with_capacity(reply.ids.len());
        let mut last = None;
        for item in &reply.ids {
            let e = entry(shard, &item.id, |f| item.get::<String>(f)).ok_or_else(|| {
                StoreError::Corrupt {
                    key: key.clone(),
                    reason: format!("stream entry id `{}` is not `<ms>-<seq>`", item.id),
                }
            })?;
            let mut e = e;
            e.hash = seals.by_id.get(&item.id).cloned();
            e.prev_hash = if e.seq == Some(1) {
                Some(hex::encode(super::chain::GENESIS))
            } else {
                self.prev[s].take()
            };
            self.prev[s] = e.hash.clone();
            last = Some(e.sid);
            page.push(e);
        }
        self.cursors[s] = last.and_then(StreamId::next);
        Ok(page)
    }
}

/// The seals of a page, and the digest just before it.
#[derive(Default)]
struct Seals {
    by_id: std::collections::HashMap<String, String>,
    before: Option<String>,
}

async fn seals(
    store: &Store,
    shard: u16,
    first: &str,
    last: &str,
    with_before: bool,
) -> Result<Seals, StoreError> {
    let key = super::seal_key(store, shard);
    let mut conn = store.conn();
    let reply: redis::streams::StreamRangeReply = store
        .run(
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(first)
                .arg(last)
                .query_async(&mut conn),
        )
        .await?;
    let mut out = Seals::default();
    for item in &reply.ids {
        if let Some(h) = item.get::<String>("h") {
            out.by_id.insert(item.id.clone(), h);
        }
    }
    if with_before {
        let before: redis::streams::StreamRangeReply = store
            .run(
                redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg(format!("({first}"))
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn),
            )
            .await?;
        out.before = before.ids.first().and_then(|i| i.get::<String>("h"));
        if out.before.is_none() {
            out.before = super::archive::anchor(store, shard)
                .await?
                .map(|a| hex::encode(a.digest));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
