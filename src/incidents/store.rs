//! Incident storage in Redis.
//!
//! Keys (owned here; `<s>` is the incident's shard, see [`crate::store`]):
//! - `<prefix>:{<s>}:incident:<id>`: HASH `state` (the [`Incident`] as JSON), `version`
//!   (compare-and-set counter), `status` (for scripts that must check it cheaply). No TTL.
//! - `<prefix>:{<s>}:incidents:open`: ZSET of ids not resolved, scored by `opened_at` (ms).
//! - `<prefix>:{<s>}:incidents:all`: ZSET of every id, scored by `opened_at` (ms).
//! - `<prefix>:{<s>}:seen:<dedupe key>`: STRING, TTL `redis.dedupe_ttl`: a delivery already applied.
//!
//! Applying an event reads the incident, runs the pure state machine, and writes the result with
//! `apply.lua` in one atomic step that fails if anyone wrote in between; then it re-reads and
//! retries. The decision stays in Rust (testable without Redis), the atomicity in Redis.
//!
//! The same step queues revocations: of every live binding of the incident when it resolves, and,
//! with `[revocation] revoke_on_unassign`, of the live bindings of this incident held by people
//! the event took off it (end reason `unassigned`). Their bindings on other incidents stay.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use tokio::sync::Mutex;

use super::events::{RespondersChanged, StatusChanged, WebhookApplied};
use super::state::{self, Applied, Directory};
use super::{Incident, IncidentEvent, IncidentId, Status};
use crate::audit;
use crate::keyspace::fnv1a;
use crate::store::{Store, StoreError, SHARDS};

/// Attempts before a compare-and-set under heavy contention gives up (503, the tool retries).
const MAX_ATTEMPTS: u32 = 16;

/// Locks that serialize applies to one incident within this process (striped by incident id),
/// so that a burst of events for one incident queues here instead of failing compare-and-set
/// against itself. Replicas still race each other; the compare-and-set settles that.
const LOCK_STRIPES: usize = 1024;

/// What applying an event did.
#[derive(Debug)]
pub enum ApplyOutcome {
    Applied(Box<Applied>),
    Duplicate,
}

/// The incidents a lock stripe last wrote, with their versions: a handful, newest first.
#[derive(Default)]
struct Recent(Vec<(String, Incident, u64)>);

impl Recent {
    const KEEP: usize = 4;

    fn take(&mut self, key: &str) -> Option<(Option<Incident>, u64)> {
        let i = self.0.iter().position(|(k, _, _)| k == key)?;
        let (_, incident, version) = self.0.remove(i);
        Some((Some(incident), version))
    }

    fn put(&mut self, key: String, incident: Incident, version: u64) {
        self.0.insert(0, (key, incident, version));
        self.0.truncate(Self::KEEP);
    }
}

/// Incident records in Redis.
#[derive(Clone)]
pub struct IncidentStore {
    store: Store,
    script: redis::Script,
    dedupe_ttl_secs: u64,
    revoke_on_unassign: bool,
    /// Which binding statuses the resolve revokes, from the binding lifecycle (`apply.lua`).
    revocation: String,
    /// Applies to one incident are serialized within the process by a lock stripe, which also
    /// remembers the last incidents it wrote: their next event needs no read first.
    locks: Arc<[Mutex<Recent>]>,
}

/// Which incidents to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Not resolved (open or acknowledged).
    Open,
    All,
}

impl IncidentStore {
    pub fn new(store: Store, dedupe_ttl: std::time::Duration) -> Self {
        Self {
            store,
            script: audit::script(include_str!("apply.lua")),
            dedupe_ttl_secs: dedupe_ttl.as_secs().max(1),
            revoke_on_unassign: false,
            revocation: crate::bindings::lifecycle::revocation_json(),
            locks: (0..LOCK_STRIPES)
                .map(|_| Mutex::new(Recent::default()))
                .collect(),
        }
    }

    /// Also revoke a person's bindings on an incident when an event takes them off it
    /// (`[revocation] revoke_on_unassign`); off by default.
    pub fn revoke_on_unassign(mut self, on: bool) -> Self {
        self.revoke_on_unassign = on;
        self
    }

    fn incident_key(&self, id: &IncidentId) -> (u16, String) {
        (id.shard(), self.store.keys().incident(id))
    }

    /// Apply one event atomically (de-duplicate, state machine, write, audit).
    pub async fn apply(
        &self,
        event: &IncidentEvent,
        directory: &dyn Directory,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<ApplyOutcome, StoreError> {
        let (shard, key) = self.incident_key(&event.incident);
        let seen: Vec<String> = event
            .dedupe_keys
            .iter()
            .map(|k| self.store.key(shard, &format!("seen:{k}")))
            .collect();
        let stripe = fnv1a(key.as_bytes()) as usize % self.locks.len();
        let mut recent = self.locks[stripe].lock().await;
        // One round trip in the usual case: the incident as this process last wrote it, or, for
        // one it has not seen, a guess that it is new. A wrong guess costs nothing but the
        // retry: the script compares versions and answers a conflict with the incident as it is.
        let mut known = recent.take(&key).unwrap_or((None, 0));
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 1 {
                // Another replica keeps winning the race (it may have a burst of this incident's
                // events queued and, remembering the incident, need no read): back off
                // exponentially with full jitter so that it drains and this one gets a turn.
                let cap = 500u64 << attempt.min(7);
                let micros = fastrand::u64(0..cap.min(50_000));
                tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
            }
            let (current, version) = std::mem::take(&mut known);
            let applied = state::apply(current.as_ref(), event, directory, now);
            let incident = &applied.incident;
            let state_json = serde_json::to_string(incident).map_err(|e| corrupt(&key, e))?;
            let events = audit_events(event, &applied, current.as_ref(), request_id, now);
            let origin = audit::Origin::webhook(event.incident.source().as_str());
            let origin_json = serde_json::json!([origin.actor, origin.source]).to_string();
            let unassigned = if self.revoke_on_unassign {
                applied.unassigned_emails(current.as_ref())
            } else {
                Vec::new()
            };
            let unassigned = serde_json::to_string(&unassigned).map_err(|e| corrupt(&key, e))?;
            let mut invocation = self.script.prepare_invoke();
            invocation
                .key(&key)
                .key(self.store.key(shard, "incidents:open"))
                .key(self.store.key(shard, "incidents:all"))
                .key(audit::stream_key(&self.store, shard))
                .key(self.store.keys().incident_bindings(&event.incident))
                .key(self.store.keys().schedule(shard));
            for k in &seen {
                invocation.key(k);
            }
            invocation
                .arg(version)
                .arg(state_json)
                .arg(incident.status.as_str())
                .arg(event.incident.to_string())
                .arg(incident.opened_at.timestamp_millis())
                .arg(self.dedupe_ttl_secs)
                .arg(audit::encode(&events, now))
                .arg(audit::rfc3339(now))
                .arg(origin_json)
                .arg(self.store.keys().binding_prefix(shard))
                .arg(now.timestamp_millis())
                .arg(unassigned)
                .arg(&self.revocation);
            let mut conn = self.store.conn();
            let reply: Vec<redis::Value> =
                self.store.run(invocation.invoke_async(&mut conn)).await?;
            match reply.first() {
                Some(redis::Value::BulkString(b)) if b == b"applied" => {
                    if let Some(v) = reply
                        .get(1)
                        .and_then(|v| redis::from_redis_value::<u64>(v.clone()).ok())
                    {
                        recent.put(key, applied.incident.clone(), v);
                    }
                    return Ok(ApplyOutcome::Applied(Box::new(applied)));
                }
                Some(redis::Value::BulkString(b)) if b == b"duplicate" => {
                    if let (Some(c), true) = (current, version > 0) {
                        recent.put(key, c, version);
                    }
                    return Ok(ApplyOutcome::Duplicate);
                }
                Some(redis::Value::BulkString(b)) if b == b"conflict" => {
                    let text = |i: usize| {
                        reply
                            .get(i)
                            .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                            .unwrap_or_default()
                    };
                    let (state, version) = (text(1), text(2));
                    let incident = if state.is_empty() {
                        None
                    } else {
                        Some(serde_json::from_str(&state).map_err(|e| corrupt(&key, e))?)
                    };
                    let version = version.parse().map_err(|e| corrupt(&key, e))?;
                    known = (incident, version);
                    continue;
                }
                other => {
                    return Err(StoreError::Corrupt {
                        key,
                        reason: format!("unexpected script reply {other:?}"),
                    })
                }
            }
        }
        Err(StoreError::Contended(key))
    }

    /// Read an incident and its compare-and-set version (0 if absent). Not on the webhook path:
    /// [`IncidentStore::apply`] learns the state from its cache or from the script's answer.
    async fn read(&self, key: &str) -> Result<(Option<Incident>, u64), StoreError> {
        let mut conn = self.store.conn();
        let (state, version): (Option<String>, Option<u64>) = self
            .store
            .run(
                redis::cmd("HMGET")
                    .arg(key)
                    .arg("state")
                    .arg("version")
                    .query_async(&mut conn),
            )
            .await?;
        let incident = match state {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| corrupt(key, e))?),
            None => None,
        };
        Ok((incident, version.unwrap_or(0)))
    }

    /// One incident, if breakglass has heard of it.
    pub async fn get(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
        Ok(self.get_versioned(id).await?.0)
    }

    /// One incident with its compare-and-set version (0 if absent), for decisions that must be
    /// recorded only if the incident did not change meanwhile.
    pub async fn get_versioned(
        &self,
        id: &IncidentId,
    ) -> Result<(Option<Incident>, u64), StoreError> {
        let (_, key) = self.incident_key(id);
        self.read(&key).await
    }

    /// Incidents the caller may see (`visible`), newest first, up to `limit`, across every
    /// shard. Filters while it reads, so a caller who sees few incidents still gets `limit`.
    pub async fn list(
        &self,
        listing: Listing,
        limit: usize,
        visible: impl Fn(&Incident) -> bool,
    ) -> Result<Vec<Incident>, StoreError> {
        const BATCH: isize = 200;
        let index = match listing {
            Listing::Open => "incidents:open",
            Listing::All => "incidents:all",
        };
        let mut found: Vec<Incident> = Vec::new();
        let mut conn = self.store.conn();
        for shard in 0..SHARDS {
            let mut in_shard = 0;
            let mut start: isize = 0;
            while in_shard < limit {
                let ids: Vec<String> = self
                    .store
                    .run(conn.zrevrange(self.store.key(shard, index), start, start + BATCH - 1))
                    .await?;
                if ids.is_empty() {
                    break;
                }
                start += BATCH;
                let mut pipe = redis::pipe();
                for id in &ids {
                    pipe.hget(self.store.key(shard, &format!("incident:{id}")), "state");
                }
                let states: Vec<Option<String>> =
                    self.store.run(pipe.query_async(&mut conn)).await?;
                for (id, state) in ids.iter().zip(states) {
                    let Some(json) = state else { continue };
                    let incident: Incident =
                        serde_json::from_str(&json).map_err(|e| corrupt(id, e))?;
                    if listing.includes(incident.status) && visible(&incident) {
                        found.push(incident);
                        in_shard += 1;
                    }
                }
            }
        }
        found.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
        found.truncate(limit);
        Ok(found)
    }
}

/// What applying `event` records: the webhook, and any change of status or responders.
fn audit_events(
    event: &IncidentEvent,
    applied: &Applied,
    before: Option<&Incident>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Vec<audit::Event> {
    let incident = &applied.incident;
    let name =
        |r: &crate::incidents::Responder| r.email.clone().unwrap_or_else(|| r.tool_id.clone());
    let origin = audit::Origin::webhook(event.incident.source().as_str());
    let webhook = WebhookApplied {
        incident: event.incident.clone(),
        source: event.incident.source(),
        kind: event.kind.clone(),
        occurred_at: event.occurred_at,
        received_at: now,
        request_id: request_id.to_owned(),
        status_before: applied.previous_status,
        status_after: incident.status,
        stale: applied.stale,
        responders: incident.responders.iter().map(name).collect(),
        removed_responders: applied.removed_responders.clone(),
        dedupe_keys: event.dedupe_keys.clone(),
    };
    let mut events = vec![audit::Event::new(&origin, &event.incident, None, &webhook)];
    if applied.previous_status != Some(incident.status) {
        let changed = StatusChanged {
            from: applied.previous_status,
            to: incident.status,
            kind: event.kind.clone(),
            occurred_at: event.occurred_at,
        };
        events.push(audit::Event::new(&origin, &event.incident, None, &changed));
    }
    let previously: std::collections::BTreeSet<String> = before
        .iter()
        .flat_map(|c| c.responders.iter().map(name))
        .collect();
    let added: Vec<String> = incident
        .responders
        .iter()
        .map(name)
        .filter(|n| !previously.contains(n))
        .collect();
    if !added.is_empty() || !applied.removed_responders.is_empty() {
        let changed = RespondersChanged {
            added,
            removed: applied.removed_responders.clone(),
            kind: event.kind.clone(),
            occurred_at: event.occurred_at,
        };
        events.push(audit::Event::new(&origin, &event.incident, None, &changed));
    }
    events
}

impl Listing {
    pub fn includes(self, status: Status) -> bool {
        match self {
            Listing::Open => status != Status::Resolved,
            Listing::All => true,
        }
    }
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    }
}
