//! Unit tests of JWKS parsing, key selection and the refresh rules.

use super::*;

const JWKS: &[u8] = include_bytes!("../../../tests/fixtures/oidc/jwks.json");

#[test]
fn keeps_rs256_and_es256_keys_and_skips_every_other_kind() {
    let mut doc: serde_json::Value = serde_json::from_slice(JWKS).unwrap();
    let keys = doc["keys"].as_array_mut().unwrap();
    keys.push(serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}));
    keys.push(serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": keys[0]["n"], "e": "AQAB"}));
    keys.push(serde_json::json!({"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"}));
    keys.push(serde_json::json!({"kty": "whatever", "kid": "odd", "alg": "ML-DSA-44"}));
    let set = KeySet::parse(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(set.len(), 2);
    assert!(set.has_kid("rsa-1") && set.has_kid("ec-1"));
    assert!(!set.has_kid("hmac") && !set.has_kid("enc") && !set.has_kid("small"));
}

#[test]
fn a_document_without_a_usable_key_is_an_error() {
    assert!(KeySet::parse(b"not json").is_err());
    assert!(KeySet::parse(br#"{"keys": []}"#).is_err());
    assert!(KeySet::parse(br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#).is_err());
}

#[test]
fn selection_needs_the_kid_and_the_key_type_to_match() {
    let set = KeySet::parse(JWKS).unwrap();
    assert!(set.select(Some("rsa-1"), KeyKind::Rsa).is_some());
    assert!(set.select(Some("rsa-1"), KeyKind::EcP256).is_none());
    assert!(set.select(Some("ec-1"), KeyKind::Rsa).is_none());
    assert!(set.select(Some("nope"), KeyKind::Rsa).is_none());
    // Without a kid: the only key of the type.
    assert_eq!(
        set.select(None, KeyKind::EcP256).unwrap().kid.as_deref(),
        Some("ec-1")
    );
}

#[test]
fn without_a_kid_two_keys_of_the_type_are_ambiguous() {
    let mut doc: serde_json::Value = serde_json::from_slice(JWKS).unwrap();
    let mut copy = doc["keys"][0].clone();
    copy["kid"] = "rsa-copy".into();
    doc["keys"].as_array_mut().unwrap().push(copy);
    let set = KeySet::parse(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert!(set.select(None, KeyKind::Rsa).is_none());
    assert!(set.select(Some("rsa-copy"), KeyKind::Rsa).is_some());
}

#[test]
fn a_cold_cache_fetches_and_a_failing_idp_is_retried_every_30_seconds() {
    let t0 = Instant::now();
    let mut state = CacheState::default();
    assert_eq!(state.fetch_reason(t0, true), Some(FetchReason::Stale));
    state.record_attempt(FetchReason::Stale, t0);
    // The fetch failed: nothing cached, but no new stale fetch for 30 s.
    assert_eq!(
        state.fetch_reason(t0 + Duration::from_secs(10), false),
        None
    );
    assert_eq!(
        state.fetch_reason(t0 + MIN_INTERVAL, false),
        Some(FetchReason::Stale)
    );
}

#[test]
fn keys_are_refetched_after_five_minutes() {
    let t0 = Instant::now();
    let mut state = CacheState::default();
    state.record_attempt(FetchReason::Stale, t0);
    state.fetched_at = Some(t0);
    assert_eq!(
        state.fetch_reason(t0 + Duration::from_secs(299), false),
        None
    );
    assert_eq!(
        state.fetch_reason(t0 + MAX_AGE, false),
        Some(FetchReason::Stale)
    );
}

#[test]
fn unknown_kids_fetch_at_most_once_per_30_seconds() {
    let t0 = Instant::now();
    let mut state = CacheState::default();
    state.record_attempt(FetchReason::Stale, t0);
    state.fetched_at = Some(t0);
    // A rotation right after the first fetch is still picked up at once.
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(state.fetch_reason(t1, true), Some(FetchReason::UnknownKid));
    state.record_attempt(FetchReason::UnknownKid, t1);
    for s in [2, 10, 30] {
        assert_eq!(state.fetch_reason(t0 + Duration::from_secs(s), true), None);
    }
    assert_eq!(
        state.fetch_reason(t1 + MIN_INTERVAL, true),
        Some(FetchReason::UnknownKid)
    );
    assert_eq!(state.fetch_reason(t1 + MIN_INTERVAL, false), None);
}
