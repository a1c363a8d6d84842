//! The identity provider's signing keys (a JWKS), from a file read at start-up or from a URL.
//!
//! Only keys that can verify RS256 (RSA of at least 2048 bits) or ES256 (EC on P-256) are kept;
//! every other key in the document (encryption keys, HMAC `oct` keys, other curves) is skipped, so
//! no token can ever be checked against a key of the wrong kind.
//!
//! A URL's keys are cached. They are fetched again when older than [`MAX_AGE`] and when a token
//! names a `kid` the cache does not hold (the IdP rotated its keys), but each of those two reasons
//! fetches at most once per [`MIN_INTERVAL`]: a flood of tokens with forged `kid`s costs the IdP
//! one request every 30 seconds. A failed fetch keeps the keys already cached.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::DecodingKey;

/// Cached keys older than this are fetched again.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// The least time between two fetches made for the same reason.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// A JWKS document larger than this is refused (real ones are a few KiB).
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The two kinds of key a token may be verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, for RS256.
    Rsa,
    /// EC on P-256, for ES256.
    EcP256,
}

/// One usable verification key.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub kind: KeyKind,
    pub key: DecodingKey,
}

/// The usable keys of one JWKS document.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// Parse a JWKS document, keeping only RS256 and ES256 signing keys. Fails on bad JSON and on a
    /// document with no usable key (which would make every token fail later, less clearly).
    pub fn parse(document: &[u8]) -> Result<KeySet, String> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let doc: Document = serde_json::from_slice(document)
            .map_err(|e| format!("not a JWKS document ({e}); expected {{\"keys\": [...]}}"))?;
        // Keys are read one by one so that one exotic key does not hide the others.
        let keys: Vec<VerifyingKey> = doc
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| usable_key(&jwk))
            .collect();
        if keys.is_empty() {
            return Err(
                "the JWKS holds no RS256 (RSA, 2048 bits or more) or ES256 (EC P-256) signing key"
                    .into(),
            );
        }
        Ok(KeySet { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key for a token: the key of the token's `kid` and of `kind`, or, for a token without a
    /// `kid`, the only key of `kind`. `None` when there is no such key or the choice is ambiguous.
    pub fn select(&self, kid: Option<&str>, kind: KeyKind) -> Option<&VerifyingKey> {
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| k.kind == kind && (kid.is_none() || k.kid.as_deref() == kid));
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => Some(key),
            _ => None,
        }
    }
}

/// The key a JWK describes, if it may verify RS256 or ES256 signatures.
fn usable_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = jwk.common.key_algorithm;
    let (kind, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) if matches!(alg, None | Some(KeyAlgorithm::RS256)) => {
            let modulus = b64(&rsa.n)?;
            let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return None;
            }
            (
                KeyKind::Rsa,
                DecodingKey::from_rsa_components(&rsa.n, &rsa.e).ok()?,
            )
        }
        AlgorithmParameters::EllipticCurve(ec)
            if ec.curve == EllipticCurve::P256
                && matches!(alg, None | Some(KeyAlgorithm::ES256)) =>
        {
            if b64(&ec.x)?.len() != 32 || b64(&ec.y)?.len() != 32 {
                return None;
            }
            (
                KeyKind::EcP256,
                DecodingKey::from_ec_components(&ec.x, &ec.y).ok()?,
            )
        }
        _ => return None,
    };
    Some(VerifyingKey {
        kid: jwk.common.key_id.clone(),
        kind,
        key,
    })
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// Why a fetch is made; each reason has its own once-per-[`MIN_INTERVAL`] budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// Never fetched, or the keys are older than [`MAX_AGE`].
    Stale,
    /// A token names a `kid` the cache does not hold.
    UnknownKid,
}

/// What the cache knows about its own freshness. The refresh decision is a pure function of it.
#[derive(Clone, Default)]
pub struct CacheState {
    pub keys: Arc<KeySet>,
    /// Last successful fetch.
    pub fetched_at: Option<Instant>,
    /// Last fetch attempt of any kind, successful or not.
    pub attempted_at: Option<Instant>,
    /// Last fetch attempt made for an unknown `kid`.
    pub kid_fetch_at: Option<Instant>,
}

impl CacheState {
    /// Whether to fetch now, and why, for a token whose `kid` the cache does or does not hold.
    pub fn fetch_reason(&self, now: Instant, kid_missing: bool) -> Option<FetchReason> {
        let older = |at: Option<Instant>, age: Duration| {
            at.is_none_or(|at| now.saturating_duration_since(at) >= age)
        };
        if older(self.fetched_at, MAX_AGE) && older(self.attempted_at, MIN_INTERVAL) {
            return Some(FetchReason::Stale);
        }
        if kid_missing && older(self.kid_fetch_at, MIN_INTERVAL) {
            return Some(FetchReason::UnknownKid);
        }
        None
    }

    fn record_attempt(&mut self, reason: FetchReason, now: Instant) {
        self.attempted_at = Some(now);
        if reason == FetchReason::UnknownKid {
            self.kid_fetch_at = Some(now);
        }
    }
}

/// Keys fetched from the IdP's JWKS URL, cached and refreshed as the module doc says.
pub struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    state: RwLock<CacheState>,
    /// One fetch at a time; tokens that need one wait for it instead of starting another.
    fetching: tokio::sync::Mutex<()>,
}

impl RemoteJwks {
    pub fn new(url: &str) -> Result<RemoteJwks, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build an HTTP client ({e})"))?;
        Ok(RemoteJwks {
            url: url.to_owned(),
            client,
            state: RwLock::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The keys to verify a token naming `kid` with, fetching them first if the cache says so.
    pub async fn keys(&self, kid: Option<&str>) -> Arc<KeySet> {
        let (keys, reason) = self.decide(kid);
        let Some(reason) = reason else { return keys };
        // Stale but usable keys: if a fetch is already running, answer with what is cached.
        let _guard = if reason == FetchReason::Stale && !keys.is_empty() {
            match self.fetching.try_lock() {
                Ok(guard) => guard,
                Err(_) => return keys,
            }
        } else {
            self.fetching.lock().await
        };
        // Decide again: the fetch we waited for may have brought what this token needs.
        let (keys, reason) = self.decide(kid);
        let Some(reason) = reason else { return keys };
        self.write().record_attempt(reason, Instant::now());
        match self.fetch().await {
            Ok(set) => {
                tracing::info!(url = %self.url, keys = set.len(), ?reason, "fetched the OIDC JWKS");
                let mut state = self.write();
                state.keys = Arc::new(set);
                state.fetched_at = Some(Instant::now());
                state.keys.clone()
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, cached_keys = keys.len(), ?reason,
                    "cannot fetch the OIDC JWKS; keeping the cached keys");
                keys
            }
        }
    }

    fn decide(&self, kid: Option<&str>) -> (Arc<KeySet>, Option<FetchReason>) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let kid_missing = kid.is_some_and(|kid| !state.keys.has_kid(kid));
        (
            state.keys.clone(),
            state.fetch_reason(Instant::now(), kid_missing),
        )
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        KeySet::parse(&body)
    }
}

#[cfg(test)]
mod tests;
