//! Archival: old audit entries written out to NDJSON files, and optionally trimmed from Redis,
//! leaving an anchor where the chain continues.

use super::chain::{self, Digest};
use crate::store::{Store, StoreError};

/// Where a shard's chain starts after archival: the last archived entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub id: String,
    pub digest: Digest,
}

/// A shard's anchor, if it was ever trimmed.
pub async fn anchor(store: &Store, shard: u16) -> Result<Option<Anchor>, StoreError> {
    let key = super::anchor_key(store, shard);
    let mut conn = store.conn();
    let (seq, id, h): (Option<u64>, Option<String>, Option<String>) = store
        .run(
            redis::cmd("HMGET")
                .arg(&key)
                .arg("seq")
                .arg("id")
                .arg("h")
                .query_async(&mut conn),
        )
        .await?;
    match (seq, id, h) {
        (None, None, None) => Ok(None),
        (Some(seq), Some(id), Some(h)) => match chain::parse_digest(&h) {
            Some(digest) => Ok(Some(Anchor { seq, id, digest })),
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
