//! The keyspace: shard arithmetic, the ids that pick a shard, and the keys that more than one
//! module's atomic steps touch. A leaf that depends on nothing else in the crate, so that every
//! module (the audit trail, config, the stores) can name ids and keys without depending on the
//! modules that own incidents and bindings.
//!
//! Keys are planned for Redis Cluster from the start. Every incident lives in one of [`SHARDS`]
//! logical shards, and every key one atomic step touches carries that shard's hash tag, so the
//! step stays in one slot: `<prefix>:{<shard>}:<rest>`. The modules that own keys document them;
//! [`Keys`] names those that other modules' scripts must also reach.

mod ids;

pub use ids::{BindingId, IncidentId, InvalidBindingId, InvalidIncidentId, Source, UnknownSource};

/// The name of the service's own AWS account when `[[aws.accounts]]` does not name it, and the
/// account of every binding made before there were accounts.
pub const OWN_ACCOUNT: &str = "default";

/// [`OWN_ACCOUNT`], owned: the serde default of every stored `account` field written before
/// there were accounts.
pub fn own_account() -> String {
    OWN_ACCOUNT.to_owned()
}

/// An account name as the catalogue knows it: `default` always names the service's own
/// account, whatever the catalogue calls it (`own`).
pub fn account_name<'a>(name: &'a str, own: &'a str) -> &'a str {
    if name == OWN_ACCOUNT {
        own
    } else {
        name
    }
}

/// Number of logical shards. Fixed: changing it would move incidents between shards.
pub const SHARDS: u16 = 16;

/// The shard an incident (or anything keyed by an incident) lives in.
pub fn of(id: &str) -> u16 {
    (fnv1a(id.as_bytes()) % u32::from(SHARDS)) as u16
}

/// `<prefix>:{<shard>}:<rest>`.
pub fn key(prefix: &str, shard: u16, rest: &str) -> String {
    format!("{prefix}:{{{shard}}}:{rest}")
}

/// FNV-1a: a hash that is stable across versions and platforms, unlike std's hasher, so that
/// shard assignment never changes.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The keys one module owns and another's scripts touch in the same atomic step: the incident
/// hash (owned by `incidents`, checked by the binding scripts), an incident's binding set, the
/// binding hashes and the schedule (owned by `bindings`, changed by the incident's resolve).
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    prefix: &'a str,
}

impl<'a> Keys<'a> {
    pub fn new(prefix: &'a str) -> Self {
        Self { prefix }
    }

    /// HASH: the incident (see `incidents::store`).
    pub fn incident(&self, id: &IncidentId) -> String {
        key(self.prefix, id.shard(), &format!("incident:{id}"))
    }

    /// SET: the ids of the incident's bindings (see `bindings::store`).
    pub fn incident_bindings(&self, id: &IncidentId) -> String {
        key(self.prefix, id.shard(), &format!("incident:{id}:bindings"))
    }

    /// HASH: one binding (see `bindings::store`).
    pub fn binding(&self, id: &BindingId) -> String {
        format!("{}{id}", self.binding_prefix(id.shard()))
    }

    /// What every binding key of a shard starts with: scripts build a binding's key from an id.
    pub fn binding_prefix(&self, shard: u16) -> String {
        key(self.prefix, shard, "binding:")
    }

    /// ZSET: the shard's schedule of binding work (see `bindings::store`).
    pub fn schedule(&self, shard: u16) -> String {
        key(self.prefix, shard, "schedule")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_never_move_fnv1a_is_pinned() {
        // FNV-1a's published test vectors: a change here moves every incident to another shard.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
        assert!((0..1000).all(|i| of(&format!("pagerduty:P{i}")) < SHARDS));
        assert_eq!(key("bg", 3, "incident:x"), "bg:{3}:incident:x");
    }

    #[test]
    fn shared_keys_carry_their_incidents_shard_tag() {
        let incident: IncidentId = "pagerduty:PFQZPSY".parse().unwrap();
        let binding = BindingId::new(&incident);
        let keys = Keys::new("bg");
        let tag = format!("bg:{{{}}}:", incident.shard());
        for k in [
            keys.incident(&incident),
            keys.incident_bindings(&incident),
            keys.binding(&binding),
            keys.schedule(binding.shard()),
        ] {
            assert!(k.starts_with(&tag), "{k} lacks {tag}");
        }
        assert_eq!(
            keys.incident(&incident),
            "bg:{".to_owned() + &incident.shard().to_string() + "}:incident:pagerduty:PFQZPSY"
        );
        assert_eq!(binding.shard(), incident.shard());
    }
}
