//! Binding storage in Redis.
//!
//! Keys (owned here; `<s>` is the incident's shard, also the first character of a binding id):
//! - `<prefix>:{<s>}:binding:<id>`: HASH `state` (the [`Binding`] as JSON), `status` and
//!   `end_reason` (authoritative: the incident's resolve script changes them without touching the
//!   JSON), `version` (compare-and-set counter). No TTL: bindings are evidence.
//! - `<prefix>:{<s>}:incident:<incident id>:bindings`: SET of the incident's binding ids.
//! - `<prefix>:{<s>}:holder:<incident id>:<role>:<email>`: STRING, the person's live binding of
//!   that role on that incident; makes a retried request return the same binding. Deleted when
//!   the binding ends.
//! - `<prefix>:{<s>}:schedule`: ZSET binding id -> when it next needs work (ms): approval
//!   deadline, grant deadline, expiry, or now for a revocation. Worked by the scheduler; the
//!   reconciler re-adds `revoking` bindings found missing from it ([`BindingStore::requeue_stuck`]).
//! - `<prefix>:subject:<email>:bindings`: SET of a person's binding ids across shards, for the
//!   per-person cap. Written after the atomic step (its own Cluster slot), read best-effort.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::lifecycle;
use super::model::{Binding, BindingId, BindingStatus, EndReason};
use crate::audit;
use crate::keyspace::{IncidentId, OWN_ACCOUNT};
use crate::store::{Store, StoreError, SHARDS};

/// A binding as read, with the version to compare against when writing it back.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub binding: Binding,
    pub version: u64,
}

/// What creating a binding did.
#[derive(Debug)]
pub enum CreateOutcome {
    Created,
    /// The person already holds a live binding of this role on this incident.
    Exists(BindingId),
    IncidentNotFound,
    IncidentNotOpen,
    /// The incident changed since the decision: decide again.
    Conflict,
}

/// What a compare-and-set on a binding did.
#[derive(Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    Ok,
    Conflict,
    IncidentNotOpen,
}

/// Where the binding goes in the schedule with an update.
#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    At(DateTime<Utc>),
    Remove,
    Keep,
}

#[derive(Clone)]
pub struct BindingStore {
    pub(super) store: Store,
    create: redis::Script,
    update: redis::Script,
    pub(super) claim: redis::Script,
    pub(super) release: redis::Script,
    pub(super) requeue: redis::Script,
}

impl BindingStore {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            create: audit::script(include_str!("create.lua")),
            update: audit::script(include_str!("update.lua")),
            claim: redis::Script::new(include_str!("claim.lua")),
            release: redis::Script::new(include_str!("release.lua")),
            requeue: redis::Script::new(include_str!("requeue.lua")),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn key(&self, id: &BindingId) -> String {
        self.store.keys().binding(id)
    }

    /// Who holds a live binding of a role on an incident, in an account. The service's own
    /// account keeps the key bindings had before there were accounts.
    fn holder_key(&self, incident: &IncidentId, role: &str, account: &str, email: &str) -> String {
        let who = email.to_ascii_lowercase();
        let role = match account {
            OWN_ACCOUNT => role.to_owned(),
            other => format!("{role}@{other}"),
        };
        self.store
            .key(incident.shard(), &format!("holder:{incident}:{role}:{who}"))
    }

    pub fn schedule_key(&self, shard: u16) -> String {
        self.store.keys().schedule(shard)
    }

    fn bindings_key(&self, incident: &IncidentId) -> String {
        self.store.keys().incident_bindings(incident)
    }

    fn subject_key(&self, email: &str) -> String {
        format!(
            "{}:subject:{}:bindings",
            self.store.prefix(),
            email.to_ascii_lowercase()
        )
    }

    /// Record a new binding (see `create.lua`).
    pub async fn create(
        &self,
        binding: &Binding,
        incident_version: u64,
        due: DateTime<Utc>,
        events: &[audit::Event],
        now: DateTime<Utc>,
    ) -> Result<CreateOutcome, StoreError> {
        let shard = binding.id.shard();
        let incident_key = self.store.keys().incident(&binding.incident);
        let mut inv = self.create.prepare_invoke();
        inv.key(incident_key)
            .key(self.bindings_key(&binding.incident))
            .key(self.holder_key(
                &binding.incident,
                &binding.role,
                &binding.account,
                &binding.subject,
            ))
            .key(self.key(&binding.id))
            .key(self.schedule_key(shard))
            .key(audit::stream_key(&self.store, shard))
            .arg(incident_version)
            .arg(binding.id.as_str())
            .arg(to_json(binding)?)
            .arg(binding.status.as_str())
            .arg(due.timestamp_millis())
            .arg(audit::encode(events, now))
            .arg(self.store.keys().binding_prefix(shard))
            .arg(lifecycle::revocation_json());
        let mut conn = self.store.conn();
        let reply: Vec<String> = self.store.run(inv.invoke_async(&mut conn)).await?;
        let outcome = match reply.first().map(String::as_str) {
            Some("created") => CreateOutcome::Created,
            Some("exists") => match reply.get(1).and_then(|id| id.parse().ok()) {
                Some(id) => CreateOutcome::Exists(id),
                None => return Err(corrupt("create.lua", "exists without a valid id")),
            },
            Some("incident_not_found") => CreateOutcome::IncidentNotFound,
            Some("incident_not_open") => CreateOutcome::IncidentNotOpen,
            Some("conflict") => CreateOutcome::Conflict,
            other => return Err(corrupt("create.lua", format!("{other:?}"))),
        };
        if matches!(outcome, CreateOutcome::Created) {
            // Outside the atomic step (another Cluster slot); only the per-person cap reads it.
            let _: () = self
                .store
                .run(conn.sadd(self.subject_key(&binding.subject), binding.id.as_str()))
                .await?;
        }
        Ok(outcome)
    }

    /// Compare-and-set a binding (see `update.lua`).
    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        current: &Versioned,
        next: &Binding,
        schedule: Schedule,
        events: &[audit::Event],
        require_open: bool,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, StoreError> {
        let shard = next.id.shard();
        let (op, due) = match schedule {
            Schedule::At(t) => ("set", t.timestamp_millis()),
            Schedule::Remove => ("remove", 0),
            Schedule::Keep => ("keep", 0),
        };
        let mut inv = self.update.prepare_invoke();
        inv.key(self.key(&next.id))
            .key(self.schedule_key(shard))
            .key(audit::stream_key(&self.store, shard))
            .key(self.store.keys().incident(&next.incident))
            .key(self.holder_key(&next.incident, &next.role, &next.account, &next.subject))
            .arg(current.version)
            .arg(to_json(next)?)
            .arg(next.status.as_str())
            .arg(next.end_reason.map(EndReason::as_str).unwrap_or(""))
            .arg(op)
            .arg(due)
            .arg(next.id.as_str())
            .arg(audit::encode(events, now))
            .arg(if require_open { "1" } else { "0" })
            .arg(if next.status.is_live() { "0" } else { "1" });
        let mut conn = self.store.conn();
        let reply: Vec<String> = self.store.run(inv.invoke_async(&mut conn)).await?;
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(UpdateOutcome::Ok),
            Some("conflict") => Ok(UpdateOutcome::Conflict),
            Some("incident_not_open") => Ok(UpdateOutcome::IncidentNotOpen),
            other => Err(corrupt("update.lua", format!("{other:?}"))),
        }
    }

    /// One binding, with its authoritative status overlaid on the stored JSON.
    pub async fn get(&self, id: &BindingId) -> Result<Option<Versioned>, StoreError> {
        let key = self.key(id);
        let mut conn = self.store.conn();
        let (state, status, reason, version): (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<u64>,
        ) = self
            .store
            .run(
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("state")
                    .arg("status")
                    .arg("end_reason")
                    .arg("version")
                    .query_async(&mut conn),
            )
            .await?;
        let Some(state) = state else { return Ok(None) };
        let mut binding: Binding = serde_json::from_str(&state).map_err(|e| corrupt(&key, e))?;
        lifecycle::overlay(
            &mut binding,
            status.as_deref().and_then(BindingStatus::parse),
            reason.as_deref().and_then(EndReason::parse),
        );
        Ok(Some(Versioned {
            binding,
            version: version.unwrap_or(0),
        }))
    }

    /// The person's live binding of `role` on `incident`, if they hold one.
    pub async fn held(
        &self,
        incident: &IncidentId,
        role: &str,
        account: &str,
        email: &str,
    ) -> Result<Option<Versioned>, StoreError> {
        let key = self.holder_key(incident, role, account, email);
        let mut conn = self.store.conn();
        let id: Option<String> = self.store.run(conn.get(key)).await?;
        let Some(id) = id.and_then(|id| id.parse::<BindingId>().ok()) else {
            return Ok(None);
        };
        // A binding on its way out is not "held": a new request makes a new binding, as
        // create.lua decides too, from the same list.
        Ok(self
            .get(&id)
            .await?
            .filter(|v| lifecycle::revocable().contains(&v.binding.status)))
    }

    /// Every binding of an incident, oldest request first.
    pub async fn for_incident(&self, incident: &IncidentId) -> Result<Vec<Binding>, StoreError> {
        let mut conn = self.store.conn();
        let ids: Vec<String> = self
            .store
            .run(conn.smembers(self.bindings_key(incident)))
            .await?;
        let mut out = Vec::new();
        for id in ids.iter().filter_map(|id| id.parse::<BindingId>().ok()) {
            if let Some(v) = self.get(&id).await? {
                out.push(v.binding);
            }
        }
        out.sort_by_key(|b| b.requested_at);
        Ok(out)
    }

    /// How many live bindings a person holds. Ended ones are dropped from the index as found.
    pub async fn live_count(&self, email: &str) -> Result<usize, StoreError> {
        let mut conn = self.store.conn();
        let index = self.subject_key(email);
        let ids: Vec<String> = self.store.run(conn.smembers(&index)).await?;
        let ids: Vec<BindingId> = ids.iter().filter_map(|id| id.parse().ok()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(self.key(id), "status");
        }
        let statuses: Vec<Option<String>> = self.store.run(pipe.query_async(&mut conn)).await?;
        let mut live = 0;
        let mut ended = Vec::new();
        for (id, status) in ids.iter().zip(statuses) {
            let status = status.as_deref().and_then(BindingStatus::parse);
            if status.is_some_and(BindingStatus::is_live) {
                live += 1;
            } else {
                ended.push(id.as_str());
            }
        }
        if !ended.is_empty() {
            let _: () = self.store.run(conn.srem(&index, ended)).await?;
        }
        Ok(live)
    }

    pub const SHARDS: u16 = SHARDS;
}

fn to_json(b: &Binding) -> Result<String, StoreError> {
    serde_json::to_string(b).map_err(|e| corrupt("binding", e))
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    }
}
