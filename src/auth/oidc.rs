//! OIDC JWT authentication: responders sign in with the company's identity provider and send the
//! JWT it issued them as `Authorization: Bearer <jwt>`.
//!
//! Only RS256 and ES256 are accepted, and the algorithm named by the token must match the kind of
//! the key it selects (RSA for RS256, EC P-256 for ES256): `alg: none`, every HMAC algorithm and
//! algorithm-confusion tokens (HS256 "signed" with the RSA public key) are refused before any
//! signature check. Keys come from the IdP's JWKS ([`super::jwks`]); keys embedded in the token
//! (`jwk`, `jku`, `x5u`, `x5c`) are never used. The signature is checked before any claim is
//! believed; then issuer, audience, `exp` and `nbf` (with [`LEEWAY`]), and the email claim, which
//! becomes the caller's subject.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

pub use super::jwks::KeyKind;
use super::jwks::{KeySet, RemoteJwks};
use super::Principal;
use crate::config::{ConfigError, Oidc};

/// Clock skew tolerated between the IdP and this service, in seconds.
pub const LEEWAY: u64 = 30;

/// Why a token was refused. Precise, for the log; the caller sees the coarser [`super::AuthError`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("algorithm {0:?} is not accepted (only RS256 and ES256)")]
    Algorithm(String),
    #[error("the header has `crit` extensions, which are not supported")]
    CriticalHeader,
    #[error("no {kind:?} key with kid {kid:?} in the JWKS")]
    NoKey { kid: Option<String>, kind: KeyKind },
    #[error("the JWKS could not be fetched and no key is cached")]
    KeysUnavailable,
    #[error("bad signature")]
    Signature,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("no numeric `exp` claim")]
    NoExpiry,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf in the future)")]
    NotYetValid,
    #[error("no `{0}` claim holding a non-empty string")]
    NoEmail(String),
    #[error("`email_verified` is false")]
    EmailNotVerified,
}

/// Verifies IdP-issued JWTs and turns them into [`Principal`]s.
pub struct OidcVerifier {
    issuer: String,
    audience: String,
    email_claim: String,
    /// Lower-cased emails of the admins.
    admins: Vec<String>,
    keys: Keys,
}

enum Keys {
    /// Read from `jwks_file` once, at start-up.
    Fixed(Arc<KeySet>),
    /// Fetched from `jwks_url`, cached and refreshed.
    Remote(RemoteJwks),
}

impl OidcVerifier {
    /// Build from `[auth.oidc]`. Reads `jwks_file` now, so that a bad file fails start-up.
    pub fn new(config: &Oidc) -> Result<OidcVerifier, ConfigError> {
        let keys = match (&config.jwks_file, &config.jwks_url) {
            (Some(path), _) => {
                let key = "auth.oidc.jwks_file";
                let bytes = std::fs::read(path).map_err(|e| {
                    ConfigError::new(key, format!(
                        "cannot read `{}` ({e}); point it at a JSON file holding the identity provider's JWKS",
                        path.display()
                    ))
                })?;
                let set = KeySet::parse(&bytes).map_err(|why| {
                    ConfigError::new(key, format!(
                        "`{}`: {why}; save the document served at the identity provider's `jwks_uri` there",
                        path.display()
                    ))
                })?;
                Keys::Fixed(Arc::new(set))
            }
            (None, Some(url)) => Keys::Remote(
                RemoteJwks::new(url).map_err(|why| ConfigError::new("auth.oidc.jwks_url", why))?,
            ),
            (None, None) => {
                return Err(ConfigError::new(
                    "auth.oidc",
                    "set `jwks_url` (or `jwks_file`) to the identity provider's signing keys",
                ))
            }
        };
        Ok(OidcVerifier {
            issuer: config.issuer.trim().to_owned(),
            audience: config.audience.trim().to_owned(),
            email_claim: config.email_claim.clone(),
            admins: config
                .admins
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
            keys,
        })
    }

    /// Verify a token now.
    pub async fn verify(&self, token: &str) -> Result<Principal, OidcError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.verify_at(token, now).await
    }

    /// Verify a token as of `now` (seconds since the Unix epoch).
    pub async fn verify_at(&self, token: &str, now: u64) -> Result<Principal, OidcError> {
        let (alg, kid) = read_header(token)?;
        let kind = match alg {
            Algorithm::RS256 => KeyKind::Rsa,
            _ => KeyKind::EcP256,
        };
        let keys = match &self.keys {
            Keys::Fixed(keys) => keys.clone(),
            Keys::Remote(remote) => remote.keys(kid.as_deref()).await,
        };
        if keys.is_empty() {
            return Err(OidcError::KeysUnavailable);
        }
        let key = keys
            .select(kid.as_deref(), kind)
            .ok_or(OidcError::NoKey { kid, kind })?;
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &self.validation(alg))
                .map_err(|e| match e.kind() {
                    ErrorKind::InvalidSignature => OidcError::Signature,
                    ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
                    ErrorKind::InvalidAudience => OidcError::WrongAudience,
                    ErrorKind::MissingRequiredClaim(c) if c == "iss" => OidcError::WrongIssuer,
                    ErrorKind::MissingRequiredClaim(c) if c == "aud" => OidcError::WrongAudience,
                    ErrorKind::MissingRequiredClaim(_) => OidcError::NoExpiry,
                    _ => OidcError::Malformed,
                })?
                .claims;
        check_times(&claims, now)?;
        self.principal(&claims)
    }

    /// The library checks the signature (of `alg` only), issuer and audience. Times are checked
    /// by [`check_times`] against an explicit `now`.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.validate_exp = false;
        v.validate_nbf = false;
        v
    }

    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, OidcError> {
        let email = claims
            .get(&self.email_claim)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| OidcError::NoEmail(self.email_claim.clone()))?;
        // Some IdPs (Cognito) send the flag as a string.
        if self.email_claim == "email"
            && matches!(claims.get("email_verified"), Some(v) if *v == Value::Bool(false) || *v == "false")
        {
            return Err(OidcError::EmailNotVerified);
        }
        Ok(Principal {
            subject: email.to_owned(),
            admin: self.admins.contains(&email.to_ascii_lowercase()),
        })
    }
}

/// Whether a bearer value is shaped like a JWS compact token: three base64url segments (the last
/// may be empty, as in `alg: none`), so that other bearer values are not parsed as JWTs.
pub fn looks_like_jwt(token: &[u8]) -> bool {
    let segments: Vec<&[u8]> = token.split(|b| *b == b'.').collect();
    segments.len() == 3
        && !segments[0].is_empty()
        && !segments[1].is_empty()
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The algorithm and `kid` of a token, refusing any algorithm but RS256 and ES256. Parsed here,
/// not by the library, so that `none` and unknown algorithms are named in the log.
fn read_header(token: &str) -> Result<(Algorithm, Option<String>), OidcError> {
    #[derive(serde::Deserialize)]
    struct Header {
        alg: String,
        kid: Option<String>,
        crit: Option<Value>,
    }
    let encoded = token.split('.').next().ok_or(OidcError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| OidcError::Malformed)?;
    let header: Header = serde_json::from_slice(&bytes).map_err(|_| OidcError::Malformed)?;
    let alg = match header.alg.as_str() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        other => return Err(OidcError::Algorithm(other.chars().take(32).collect())),
    };
    if header.crit.is_some() {
        return Err(OidcError::CriticalHeader);
    }
    Ok((alg, header.kid))
}

/// `exp` (required) and `nbf` (if present), each with [`LEEWAY`].
fn check_times(claims: &Map<String, Value>, now: u64) -> Result<(), OidcError> {
    let now = now as f64;
    let leeway = LEEWAY as f64;
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(OidcError::NoExpiry)?;
    if now > exp + leeway {
        return Err(OidcError::Expired);
    }
    match claims.get("nbf") {
        None => Ok(()),
        Some(nbf) => match nbf.as_f64() {
            Some(nbf) if now + leeway < nbf => Err(OidcError::NotYetValid),
            Some(_) => Ok(()),
            None => Err(OidcError::Malformed),
        },
    }
}

#[cfg(test)]
mod tests;
