//! The hash chain over a shard's audit stream, and its seal.
//!
//! Each entry's digest is SHA-256 over a canonical encoding of the previous entry's digest and
//! the entry itself (its id, its shard and every field, sorted by name, each length-prefixed so
//! that no two entries encode alike):
//!
//! ```text
//! digest_n = SHA-256( "breakglass-audit-v1" 0x00 || digest_{n-1} (32 bytes)
//!                     || lp(shard) || lp(id) || for each field by name: lp(name) || lp(value) )
//! lp(x)    = length of x as 4 bytes big-endian || x
//! seal_n   = HMAC-SHA256(key, "breakglass-audit-seal-v1" 0x00 || digest_n)
//! ```
//!
//! The first entry of a shard chains from 32 zero bytes (or from the archival anchor). The
//! digests are computed outside Redis (Redis's Lua has SHA-1 only) by the sealer, in stream
//! order, so that no writer waits on a global chain head. The HMAC key lives in the service's
//! config, not in Redis: someone with Redis access alone can recompute digests but not seals.

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// A chain digest.
pub type Digest = [u8; 32];

/// Where every shard's chain starts.
pub const GENESIS: Digest = [0; 32];

/// One stream entry as stored: its id and every field, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub id: String,
    pub fields: Vec<(String, Vec<u8>)>,
}

impl RawEntry {
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The entry's `seq` field, if it is a number.
    pub fn seq(&self) -> Option<u64> {
        self.text("seq")?.parse().ok()
    }

    /// Read from an `XRANGE` reply item.
    pub fn from_stream(item: &redis::streams::StreamId) -> Self {
        let mut fields: Vec<(String, Vec<u8>)> = item
            .map
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<u8> = redis::from_redis_value(v.clone()).unwrap_or_default();
                (k.clone(), bytes)
            })
            .collect();
        fields.sort();
        Self {
            id: item.id.clone(),
            fields,
        }
    }
}

/// One item of an `XRANGE` reply, `[id, [name, value, ...]]`, read without copying its values
/// or building a map (the sealer reads every event back).
impl redis::FromRedisValue for RawEntry {
    fn from_redis_value(v: redis::Value) -> Result<Self, redis::ParsingError> {
        let bad = || redis::ParsingError::from(String::from("not a stream entry"));
        let redis::Value::Array(parts) = v else {
            return Err(bad());
        };
        let [id, redis::Value::Array(flat)] =
            <[redis::Value; 2]>::try_from(parts).map_err(|_| bad())?
        else {
            return Err(bad());
        };
        let id = String::from_redis_value(id)?;
        let mut fields = Vec::with_capacity(flat.len() / 2);
        let mut flat = flat.into_iter();
        while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
            fields.push((
                String::from_redis_value(name)?,
                Vec::from_redis_value(value)?,
            ));
        }
        fields.sort();
        Ok(Self { id, fields })
    }
}

fn lp(h: &mut Sha256, bytes: &[u8]) {
    // Stream fields are far below 4 GiB; saturate rather than wrap if one ever were not.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(bytes);
}

/// The digest of `entry` of `shard`, chained to `prev`.
pub fn digest(prev: &Digest, shard: u16, entry: &RawEntry) -> Digest {
    let mut h = Sha256::new();
    h.update(b"breakglass-audit-v1\0");
    h.update(prev);
    lp(&mut h, shard.to_string().as_bytes());
    lp(&mut h, entry.id.as_bytes());
    let mut fields: Vec<&(String, Vec<u8>)> = entry.fields.iter().collect();
    fields.sort();
    for (name, value) in fields {
        lp(&mut h, name.as_bytes());
        lp(&mut h, value);
    }
    h.finalize().into()
}

/// The seal of a digest under `key`.
pub fn seal(key: &[u8], digest: &Digest) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"breakglass-audit-seal-v1\0");
    mac.update(digest);
    mac.finalize().into_bytes().into()
}

/// Whether `seal_hex` is the seal of `digest` under `key` (constant time).
pub fn seal_matches(key: &[u8], digest: &Digest, seal_hex: &str) -> bool {
    let Ok(given) = hex::decode(seal_hex) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"breakglass-audit-seal-v1\0");
    mac.update(digest);
    mac.verify_slice(&given).is_ok()
}

/// The keys of a deployment: the one it seals with, and earlier ones whose seals still check
/// (after a rotation).
#[derive(Clone, Default)]
pub struct Keys {
    pub current: Option<crate::secret::Secret>,
    pub previous: Vec<crate::secret::Secret>,
}

impl Keys {
    /// Just one key (or none).
    pub fn single(key: Option<&crate::secret::Secret>) -> Self {
        Self {
            current: key.cloned(),
            previous: Vec::new(),
        }
    }

    pub fn from_config(audit: &crate::config::Audit) -> Self {
        Self {
            current: audit.key.clone(),
            previous: audit.previous_keys.clone(),
        }
    }

    /// Whether seals are made and checked at all.
    pub fn keyed(&self) -> bool {
        self.current.is_some()
    }

    /// The seal of `digest` under the current key (hex).
    pub fn seal(&self, digest: &Digest) -> Option<String> {
        self.current
            .as_ref()
            .map(|k| hex::encode(seal(k.expose().as_bytes(), digest)))
    }

    /// Whether `seal_hex` is the seal of `digest` under the current key or an earlier one.
    pub fn checks(&self, digest: &Digest, seal_hex: &str) -> bool {
        self.current
            .iter()
            .chain(&self.previous)
            .any(|k| seal_matches(k.expose().as_bytes(), digest, seal_hex))
    }
}

/// A digest from its hex form.
pub fn parse_digest(hex_str: &str) -> Option<Digest> {
    hex::decode(hex_str).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xrange_item_reads_as_the_stream_reply_does() {
        use redis::{FromRedisValue, Value};
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let item = Value::Array(vec![
            bulk("1700000000000-3"),
            Value::Array(vec![
                bulk("type"),
                bulk("webhook.applied"),
                bulk("data"),
                Value::BulkString(vec![0xff, 0x00, b'{']),
                bulk("seq"),
                bulk("7"),
            ]),
        ]);
        let direct = RawEntry::from_redis_value(item.clone()).unwrap();
        let reply =
            redis::streams::StreamRangeReply::from_redis_value(Value::Array(vec![item])).unwrap();
        assert_eq!(direct, RawEntry::from_stream(&reply.ids[0]));
        assert_eq!(direct.seq(), Some(7));
        assert_eq!(direct.field("data"), Some(&[0xff, 0x00, b'{'][..]));
        for bad in [
            bulk("x"),
            Value::Array(vec![bulk("1-1")]),
            Value::Array(vec![bulk("1-1"), bulk("not fields")]),
        ] {
            assert!(RawEntry::from_redis_value(bad).is_err());
        }
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> RawEntry {
        RawEntry {
            id: id.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn digest_is_stable_and_known() {
        // Pinned so that a change of encoding cannot slip in: old chains must keep verifying.
        let e = entry(
            "1700000000000-0",
            &[("seq", "1"), ("type", "webhook.applied")],
        );
        let d = digest(&GENESIS, 3, &e);
        assert_eq!(
            hex::encode(d),
            hex::encode({
                let mut h = Sha256::new();
                h.update(b"breakglass-audit-v1\0");
                h.update([0u8; 32]);
                for part in [
                    &b"3"[..],
                    b"1700000000000-0",
                    b"seq",
                    b"1",
                    b"type",
                    b"webhook.applied",
                ] {
                    h.update((part.len() as u32).to_be_bytes());
                    h.update(part);
                }
                h.finalize()
            })
        );
    }

    #[test]
    fn field_order_does_not_matter_but_everything_else_does() {
        let a = entry("5-0", &[("a", "1"), ("b", "2")]);
        let b = entry("5-0", &[("b", "2"), ("a", "1")]);
        assert_eq!(digest(&GENESIS, 0, &a), digest(&GENESIS, 0, &b));
        let base = digest(&GENESIS, 0, &a);
        assert_ne!(base, digest(&GENESIS, 1, &a), "shard");
        assert_ne!(base, digest(&[1; 32], 0, &a), "previous digest");
        assert_ne!(
            base,
            digest(&GENESIS, 0, &entry("5-1", &[("a", "1"), ("b", "2")]))
        );
        assert_ne!(
            base,
            digest(&GENESIS, 0, &entry("5-0", &[("a", "1"), ("b", "3")]))
        );
        // Moving bytes between a name and its value changes the encoding.
        assert_ne!(
            base,
            digest(&GENESIS, 0, &entry("5-0", &[("a1", ""), ("b", "2")]))
        );
        assert_ne!(
            base,
            digest(
                &GENESIS,
                0,
                &entry("5-0", &[("a", "1"), ("b", "2"), ("c", "")])
            )
        );
    }

    #[test]
    fn seals_check_in_both_directions() {
        let d = digest(&GENESIS, 0, &entry("1-0", &[("seq", "1")]));
        let s = hex::encode(seal(b"key one", &d));
        assert!(seal_matches(b"key one", &d, &s));
        assert!(!seal_matches(b"key two", &d, &s));
        assert!(!seal_matches(b"key one", &[9; 32], &s));
        assert!(!seal_matches(b"key one", &d, "not hex"));
        assert_eq!(parse_digest(&hex::encode(d)), Some(d));
        assert_eq!(parse_digest("abcd"), None);
    }
}
