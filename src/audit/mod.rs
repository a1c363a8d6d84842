//! The audit trail: typed events appended to a per-shard Redis stream in the same atomic step
//! as the change they record, then chained and sealed (see [`chain`] and [`sealer`]).
//!
//! Keys (owned here; `<s>` is the shard of the incident the event is about):
//! - `<prefix>:{<s>}:audit`: STREAM, no TTL, never trimmed by the service. One entry per event,
//!   fields `seq`, `type`, `at`, `actor`, `source`, `incident`, `binding`, `data` (JSON).
//!   Written only by [`APPEND`], the Lua function every state-changing script starts with.
//! - `<prefix>:{<s>}:audit:seq`: STRING, the shard's last sequence number (INCR in the same
//!   step as the XADD, so it always equals the newest entry's `seq`).
//! - `<prefix>:{<s>}:incident:<id>:events`: LIST of the incident's entry ids, for the review.
//! - `<prefix>:{<s>}:audit:seal`: STREAM, one entry per audit entry and with the same id:
//!   fields `h` (the chain digest, hex) and `m` (its HMAC, hex; absent when no key is set).
//!   Written only by the sealer.
//! - `<prefix>:{<s>}:audit:anchor`: HASH `seq`, `id`, `h`: where the chain of a shard starts
//!   after older entries were archived and trimmed (`breakglass audit archive`).

pub mod archive;
pub mod chain;
pub mod export;
pub mod sealer;
pub mod verify;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::keyspace::{BindingId, IncidentId};
use crate::store::{Store, StoreError};

/// The Lua function library every state-changing script is prefixed with.
pub const APPEND: &str = include_str!("append.lua");

/// A script that uses the audit append: [`APPEND`] followed by `body`.
pub fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{APPEND}\n{body}"))
}

/// Who or what caused an event, and through which door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// A person's email, an incident tool (`pagerduty`), or a part of breakglass
    /// (`breakglass:scheduler`, `breakglass:reconciler`).
    pub actor: String,
    /// `webhook:<source>`, `api`, `scheduler`, `reconciler`.
    pub source: String,
}

impl Origin {
    pub fn person(email: &str) -> Self {
        Self {
            actor: email.to_owned(),
            source: "api".into(),
        }
    }

    pub fn webhook(source: &str) -> Self {
        Self {
            actor: source.to_owned(),
            source: format!("webhook:{source}"),
        }
    }

    pub fn scheduler() -> Self {
        Self {
            actor: "breakglass:scheduler".into(),
            source: "scheduler".into(),
        }
    }

    pub fn reconciler() -> Self {
        Self {
            actor: "breakglass:reconciler".into(),
            source: "reconciler".into(),
        }
    }
}

/// An audit event's payload: the Rust type its writer fills and its reader (the review) reads
/// back, and its wire name. Each part of breakglass defines the events it writes, beside the
/// code that writes them; a renamed or retyped field is a compile error at every reader, not a
/// silently emptied review.
pub trait Payload: Serialize + DeserializeOwned {
    /// The event's `type` in the stream; fixed forever once written (stored trails keep it).
    const KIND: &'static str;
}

/// One event, as the scripts receive it: `[type, at, actor, source, incident, binding, data]`
/// in a JSON array (see `append.lua`).
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub origin: Origin,
    pub incident: String,
    /// Empty when the event is about no binding.
    pub binding: String,
    /// The payload, already JSON text: serialized once, straight from what the caller has.
    pub data: String,
}

impl Event {
    pub fn new<P: Payload>(
        origin: &Origin,
        incident: &IncidentId,
        binding: Option<&BindingId>,
        payload: &P,
    ) -> Self {
        Self::loose(origin, Some(incident.to_string()), binding, payload)
    }

    /// An event whose incident may be unknown (a role found in IAM with no binding).
    pub fn loose<P: Payload>(
        origin: &Origin,
        incident: Option<String>,
        binding: Option<&BindingId>,
        payload: &P,
    ) -> Self {
        Self {
            kind: P::KIND,
            origin: origin.clone(),
            incident: incident.unwrap_or_default(),
            binding: binding.map(BindingId::to_string).unwrap_or_default(),
            // Payloads are plain structs of strings, numbers and times: serializing cannot fail.
            data: serde_json::to_string(payload).unwrap_or_else(|_| "null".into()),
        }
    }

    /// The shard whose stream takes the event: its incident's, else its binding's.
    pub fn shard(&self) -> u16 {
        if self.incident.is_empty() {
            if let Ok(id) = self.binding.parse::<BindingId>() {
                return id.shard();
            }
        }
        crate::keyspace::of(&self.incident)
    }

    /// The event as `append.lua` takes it: a JSON array (a tuple serializes as one).
    fn envelope<'a>(&'a self, at: &'a str) -> impl Serialize + 'a {
        (
            self.kind,
            at,
            &self.origin.actor,
            &self.origin.source,
            &self.incident,
            &self.binding,
            &self.data,
        )
    }
}

/// The events of one atomic step, as the JSON array the scripts take.
pub fn encode(events: &[Event], at: DateTime<Utc>) -> String {
    let at = rfc3339(at);
    let envelopes: Vec<_> = events.iter().map(|e| e.envelope(&at)).collect();
    serde_json::to_string(&envelopes).unwrap_or_else(|_| "[]".into())
}

/// Event times: RFC 3339, UTC, milliseconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Up to `count` entries of a stream after the id `after` (exclusive), as stored.
pub async fn entries_after(
    store: &Store,
    key: &str,
    after: &str,
    count: usize,
) -> Result<Vec<chain::RawEntry>, StoreError> {
    let mut conn = store.conn();
    store
        .run(
            redis::cmd("XRANGE")
                .arg(key)
                .arg(format!("({after}"))
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut conn),
        )
        .await
}

/// The stream key of a shard.
pub fn stream_key(store: &Store, shard: u16) -> String {
    store.key(shard, "audit")
}

/// The seal stream key of a shard.
pub fn seal_key(store: &Store, shard: u16) -> String {
    store.key(shard, "audit:seal")
}

/// The sequence counter key of a shard.
pub fn seq_key(store: &Store, shard: u16) -> String {
    store.key(shard, "audit:seq")
}

/// The archival anchor key of a shard.
pub fn anchor_key(store: &Store, shard: u16) -> String {
    store.key(shard, "audit:anchor")
}

/// The list of an incident's entry ids.
pub fn incident_index_key(store: &Store, incident: &IncidentId) -> String {
    store.key(incident.shard(), &format!("incident:{incident}:events"))
}

/// Appends events that record no other change: denials, refusals, reconciler findings. If the
/// append fails the caller fails too: nothing happens without its evidence.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    script: redis::Script,
}

impl AuditLog {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            script: script(include_str!("append_only.lua")),
        }
    }

    pub async fn append(&self, events: &[Event]) -> Result<(), StoreError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        let shard = first.shard();
        debug_assert!(events.iter().all(|e| e.shard() == shard));
        let mut inv = self.script.prepare_invoke();
        inv.key(stream_key(&self.store, shard))
            .arg(encode(events, Utc::now()));
        let mut conn = self.store.conn();
        let _: String = self.store.run(inv.invoke_async(&mut conn)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize)]
    struct Denied {
        rule: String,
        n: u32,
    }

    impl Payload for Denied {
        const KIND: &'static str = "elevation.denied";
    }

    #[test]
    fn events_go_to_the_scripts_as_arrays_of_seven_strings_with_data_as_json_text() {
        let incident: IncidentId = "pagerduty:PFQZPSY".parse().unwrap();
        let payload = Denied {
            rule: "not_on_call".into(),
            n: 1,
        };
        let e = Event::new(
            &Origin::person("alice@example.com"),
            &incident,
            None,
            &payload,
        );
        let at = DateTime::parse_from_rfc3339("2026-11-23T08:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = encode(&[e.clone(), e], at);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let first = v.as_array().unwrap()[0].as_array().unwrap().clone();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(
            first,
            [
                "elevation.denied",
                "2026-11-23T08:00:00.500Z",
                "alice@example.com",
                "api",
                "pagerduty:PFQZPSY",
                "",
                r#"{"rule":"not_on_call","n":1}"#,
            ]
        );
        assert_eq!(encode(&[], at), "[]");
    }

    #[test]
    fn an_event_about_no_incident_goes_to_its_bindings_shard() {
        let incident: IncidentId = "opsgenie:abc".parse().unwrap();
        let binding = BindingId::new(&incident);
        let payload = Denied {
            rule: "x".into(),
            n: 0,
        };
        let e = Event::loose(&Origin::reconciler(), None, Some(&binding), &payload);
        assert_eq!(e.shard(), incident.shard());
        assert_eq!(e.binding, binding.as_str());
    }
}
