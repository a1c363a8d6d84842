//! The sealer: a background task that chains every shard's new audit entries in stream order
//! and records each entry's digest and seal in the shard's seal stream, under the entry's own
//! id (see [`super::chain`]).
//!
//! Writers never wait for it: the atomic steps only append. One replica seals a shard at a
//! time (a lease per shard, taken or kept on each pass); were two ever to race, the second's
//! `XADD` with an id already sealed is refused by Redis, and both would have written the same
//! digest anyway. Before sealing a shard it checks that the newest seal there was made with its
//! own key: a replica with a different key stops sealing and says so, rather than forking the
//! chain into seals that half the replicas' key cannot check.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::chain::{self, Digest, RawEntry, GENESIS};
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::store::{Store, StoreError, SHARDS};

/// Entries sealed per round trip.
pub const BATCH: usize = 1000;

/// Where a shard's chain continues from: the newest sealed entry, or the anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Stream id of the newest sealed entry (`0-0` when none).
    pub id: String,
    pub digest: Digest,
    /// Its seal, as stored (hex), if any.
    pub seal: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the newest seal of audit shard {shard} was not made with this replica's [audit] key; every replica must share one key (sealing of this shard stopped)")]
    KeyMismatch { shard: u16 },
    #[error("the seal stream of audit shard {shard} is unreadable at {id}: {reason}")]
    Corrupt {
        shard: u16,
        id: String,
        reason: String,
    },
}

/// The head of a shard's chain.
pub async fn head(store: &Store, shard: u16) -> Result<Head, SealError> {
    let mut conn = store.conn();
    let newest: redis::streams::StreamRangeReply = store
        .run(
            redis::cmd("XREVRANGE")
                .arg(super::seal_key(store, shard))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn),
        )
        .await?;
    if let Some(item) = newest.ids.first() {
        let raw = RawEntry::from_stream(item);
        let digest =
            raw.text("h")
                .and_then(chain::parse_digest)
                .ok_or_else(|| SealError::Corrupt {
                    shard,
                    id: item.id.clone(),
                    reason: "field `h` is not a 64-digit hex digest".into(),
                })?;
        return Ok(Head {
            id: item.id.clone(),
            digest,
            seal: raw.text("m").map(str::to_owned),
        });
    }
    let anchor = super::archive::anchor(store, shard).await?;
    Ok(match anchor {
        Some(a) => Head {
            id: a.id,
            digest: a.digest,
            seal: None,
        },
        None => Head {
            id: "0-0".into(),
            digest: GENESIS,
            seal: None,
        },
    })
}

/// Seal up to [`BATCH`] unsealed entries of one shard. Returns how many were sealed.
pub async fn seal_shard(
    store: &Store,
    shard: u16,
    key: Option<&Secret>,
) -> Result<usize, SealError> {
    seal_shard_with(store, shard, &chain::Keys::single(key)).await
}

/// [`seal_shard`] with a deployment's keys: seals with the current one, and continues a chain
/// whose newest seal was made with the current or an earlier one.
pub async fn seal_shard_with(
    store: &Store,
    shard: u16,
    keys: &chain::Keys,
) -> Result<usize, SealError> {
    let head = head(store, shard).await?;
    if let (true, Some(seal)) = (keys.keyed(), head.seal.as_deref()) {
        if !keys.checks(&head.digest, seal) {
            return Err(SealError::KeyMismatch { shard });
        }
    }
    let entries =
        super::entries_after(store, &super::stream_key(store, shard), &head.id, BATCH).await?;
    if entries.is_empty() {
        return Ok(0);
    }
    let seal_key = super::seal_key(store, shard);
    let mut prev = head.digest;
    let mut pipe = redis::pipe();
    for raw in &entries {
        let digest = chain::digest(&prev, shard, raw);
        let cmd = pipe
            .cmd("XADD")
            .arg(&seal_key)
            .arg(&raw.id)
            .arg("h")
            .arg(hex::encode(digest));
        if let Some(seal) = keys.seal(&digest) {
            cmd.arg("m").arg(seal);
        }
        cmd.ignore();
        prev = digest;
    }
    // Not atomic, and need not be: a seal refused because another replica wrote it first is
    // the same seal.
    let mut conn = store.conn();
    let _: () = store.run(pipe.query_async(&mut conn)).await?;
    Ok(entries.len())
}

/// Whether the newest entry of a shard is unsealed: one round trip.
pub async fn has_work(store: &Store, shard: u16) -> Result<bool, StoreError> {
    let mut conn = store.conn();
    let mut pipe = redis::pipe();
    for key in [
        super::stream_key(store, shard),
        super::seal_key(store, shard),
    ] {
        pipe.cmd("XREVRANGE")
            .arg(key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1);
    }
    let (audit, seal): (
        redis::streams::StreamRangeReply,
        redis::streams::StreamRangeReply,
    ) = store.run(pipe.query_async(&mut conn)).await?;
    Ok(match (audit.ids.first(), seal.ids.first()) {
        (None, _) => false,
        (Some(a), Some(s)) => a.id != s.id,
        (Some(_), None) => true,
    })
}

/// Entries not sealed yet in one shard (counted up to [`BATCH`]).
pub async fn unsealed(store: &Store, shard: u16) -> Result<u64, SealError> {
    let head = head(store, shard).await?;
    let entries =
        super::entries_after(store, &super::stream_key(store, shard), &head.id, BATCH).await?;
    Ok(entries.len() as u64)
}

/// The background task.
pub struct Sealer {
    store: Store,
    keys: chain::Keys,
    interval: Duration,
    metrics: Arc<Metrics>,
    holder: String,
    lock: redis::Script,
}

impl Sealer {
    pub fn new(store: Store, keys: chain::Keys, interval: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            keys,
            interval,
            metrics,
            holder: uuid::Uuid::new_v4().to_string(),
            lock: redis::Script::new(include_str!("../revocation/lock.lua")),
        }
    }

    /// Run until `stop` turns true; seals what is left once more on the way out.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Problems are logged when they start, not at every pass while they last.
        let mut failing = [false; SHARDS as usize];
        loop {
            let stopping = tokio::select! {
                _ = ticks.tick() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            for shard in 0..SHARDS {
                let was = &mut failing[usize::from(shard)];
                match self.pass(shard).await {
                    Ok(n) => {
                        self.metrics.audit_sealed.inc_by(n as u64);
                        if std::mem::take(was) {
                            tracing::info!(shard, "audit sealing works again");
                        }
                    }
                    Err(e) => {
                        self.metrics.audit_seal_errors.inc();
                        if !std::mem::replace(was, true) {
                            match e {
                                SealError::KeyMismatch { .. } => {
                                    tracing::error!(shard, error = %e, "audit sealing stopped")
                                }
                                _ => {
                                    tracing::warn!(shard, error = %e, "audit sealing failed; retrying every pass")
                                }
                            }
                        }
                    }
                }
            }
            if stopping {
                return;
            }
        }
    }

    /// Seal whatever a shard has unsealed, if this replica holds (or takes) its lease.
    async fn pass(&self, shard: u16) -> Result<usize, SealError> {
        // Idle shards cost one read and write nothing (not even the lease).
        if !has_work(&self.store, shard).await? || !self.take_lease(shard).await? {
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let n = match seal_shard_with(&self.store, shard, &self.keys).await {
                Ok(n) => n,
                Err(e @ SealError::KeyMismatch { .. }) => {
                    // A replica that cannot extend the chain must not keep others from it.
                    let _ = self.release_lease(shard).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            total += n;
            if n < BATCH {
                return Ok(total);
            }
        }
    }

    async fn release_lease(&self, shard: u16) -> Result<(), StoreError> {
        let release = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
        );
        let mut inv = release.prepare_invoke();
        inv.key(self.store.key(shard, "audit:sealer"))
            .arg(&self.holder);
        let mut conn = self.store.conn();
        let _: i64 = self.store.run(inv.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn take_lease(&self, shard: u16) -> Result<bool, StoreError> {
        let ttl_ms = (self.interval.as_millis() as u64)
            .saturating_mul(20)
            .max(1000);
        let mut inv = self.lock.prepare_invoke();
        inv.key(self.store.key(shard, "audit:sealer"))
            .arg(&self.holder)
            .arg(ttl_ms);
        let mut conn = self.store.conn();
        let held: i64 = self.store.run(inv.invoke_async(&mut conn)).await?;
        Ok(held == 1)
    }
}
