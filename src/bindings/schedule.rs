//! The schedule: every binding that needs work at a time (an approval deadline, a grant
//! deadline, an expiry, a revocation now) sits in its shard's `schedule` ZSET (see
//! [`super::store`] for the key). The revocation worker polls it and leases due entries; a worker
//! that dies mid-way loses nothing, since its lease lapses and the entry comes due again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::model::{BindingId, BindingStatus};
use super::store::BindingStore;
use crate::store::{StoreError, SHARDS};

impl BindingStore {
    /// Binding ids due by `now` in one shard, at most `limit`.
    pub async fn due(
        &self,
        shard: u16,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<BindingId>, StoreError> {
        let mut conn = self.store.conn();
        let ids: Vec<String> = self
            .store
            .run(conn.zrangebyscore_limit(
                self.schedule_key(shard),
                "-inf",
                now.timestamp_millis(),
                0,
                limit as isize,
            ))
            .await?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Lease a due entry until `until` (see `claim.lua`).
    /// Returns when the entry was due, if this worker got it.
    pub async fn claim(
        &self,
        id: &BindingId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut inv = self.claim.prepare_invoke();
        inv.key(self.schedule_key(id.shard()))
            .arg(id.as_str())
            .arg(now.timestamp_millis())
            .arg(until.timestamp_millis());
        let mut conn = self.store.conn();
        let due: i64 = self.store.run(inv.invoke_async(&mut conn)).await?;
        Ok((due >= 0).then(|| DateTime::from_timestamp_millis(due).unwrap_or(now)))
    }

    /// Hand back the lease on `id` taken until `lease_end`: the entry comes due again at
    /// `retry` (see `release.lua`). Returns whether it was put back.
    pub async fn release(
        &self,
        id: &BindingId,
        lease_end: DateTime<Utc>,
        retry: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut inv = self.release.prepare_invoke();
        inv.key(self.schedule_key(id.shard()))
            .arg(id.as_str())
            .arg(lease_end.timestamp_millis())
            .arg(retry.timestamp_millis());
        let mut conn = self.store.conn();
        let put_back: i64 = self.store.run(inv.invoke_async(&mut conn)).await?;
        Ok(put_back == 1)
    }

    /// Schedule entries of one shard that are due by `now` and not done: the backlog.
    pub async fn due_count(&self, shard: u16, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.store.conn();
        self.store
            .run(conn.zcount(self.schedule_key(shard), "-inf", now.timestamp_millis()))
            .await
    }

    /// The accounts of the bindings on the schedule (every live one: pending, granting,
    /// active or revoking), with how many each: what start-up compares with the catalogue.
    pub async fn scheduled_accounts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        #[derive(serde::Deserialize)]
        struct AccountOf {
            #[serde(default = "crate::keyspace::own_account")]
            account: String,
        }
        let mut accounts = BTreeMap::new();
        let mut conn = self.store.conn();
        for shard in 0..SHARDS {
            let ids: Vec<String> = self
                .store
                .run(conn.zrange(self.schedule_key(shard), 0, -1))
                .await?;
            let ids: Vec<BindingId> = ids.iter().filter_map(|id| id.parse().ok()).collect();
            for chunk in ids.chunks(500) {
                let mut pipe = redis::pipe();
                for id in chunk {
                    pipe.hget(self.key(id), "state");
                }
                let states: Vec<Option<String>> =
                    self.store.run(pipe.query_async(&mut conn)).await?;
                for state in states.iter().flatten() {
                    if let Ok(of) = serde_json::from_str::<AccountOf>(state) {
                        *accounts.entry(of.account).or_insert(0) += 1;
                    }
                }
            }
        }
        Ok(accounts)
    }

    /// Drop an entry that needs no work.
    pub async fn unschedule(&self, id: &BindingId) -> Result<(), StoreError> {
        let mut conn = self.store.conn();
        self.store
            .run(conn.zrem(self.schedule_key(id.shard()), id.as_str()))
            .await
    }

    /// Put every binding of `shard` that is `revoking` but absent from the schedule back in
    /// it, due `now` (see `requeue.lua`); returns their ids. Such a binding would otherwise never
    /// be revoked: only the schedule drives revocations. Walks the shard's binding keys with
    /// SCAN, so it costs one pass over every binding ever made: for the reconciler, not hot paths.
    pub async fn requeue_stuck(
        &self,
        shard: u16,
        now: DateTime<Utc>,
    ) -> Result<Vec<BindingId>, StoreError> {
        // The prefix is validated to letters, digits and `-_.:`: nothing a glob would read.
        let prefix = self.store.keys().binding_prefix(shard);
        let mut conn = self.store.conn();
        let mut requeued = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .store
                .query_in_shard(
                    shard,
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{prefix}*"))
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            let ids: Vec<BindingId> = keys
                .iter()
                .filter_map(|k| k.strip_prefix(&prefix)?.parse().ok())
                .collect();
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.hget(self.key(id), "status");
            }
            let statuses: Vec<Option<String>> = if ids.is_empty() {
                Vec::new()
            } else {
                self.store.run(pipe.query_async(&mut conn)).await?
            };
            for (id, status) in ids.into_iter().zip(statuses) {
                if status.as_deref() != Some(BindingStatus::Revoking.as_str()) {
                    continue;
                }
                let mut inv = self.requeue.prepare_invoke();
                inv.key(self.key(&id))
                    .key(self.schedule_key(shard))
                    .arg(id.as_str())
                    .arg(now.timestamp_millis())
                    .arg(BindingStatus::Revoking.as_str());
                let added: i64 = self.store.run(inv.invoke_async(&mut conn)).await?;
                if added == 1 {
                    requeued.push(id);
                }
            }
            if next == 0 {
                return Ok(requeued);
            }
            cursor = next;
        }
    }
}
