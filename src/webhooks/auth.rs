//! Webhook authentication on raw bytes, before any parsing.
//!
//! - PagerDuty: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of the body.
//! - Grafana Incident: `GI-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 of
//!   `base64(sha256(body)) + ":" + t + ":v1"`, with a timestamp tolerance.
//! - Opsgenie and Grafana OnCall sign nothing: a static token in `Authorization: Bearer`, Basic
//!   auth (token as password) or `X-Breakglass-Token`.
//!
//! Every comparison is constant-time (`Mac::verify_slice`, `subtle`), every configured secret is
//! tried, and every failure looks the same to the caller: [`AuthFailure`] is for the log only.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::incidents::Source;
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// At most this many signatures are read from one header; the rest are ignored.
const MAX_SIGNATURES: usize = 8;

/// Why a webhook failed authentication. Logged, never shown: the caller always sees one 401 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("the signature or token header is missing")]
    Missing,
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature timestamp is outside the tolerance window")]
    Stale,
    #[error("no configured secret or token matches")]
    Mismatch,
}

/// A webhook whose origin has been proven. Only this module can make one, so only authenticated
/// bytes can reach the normalizers and incident state.
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    source: Source,
    body: Bytes,
    headers: HeaderMap,
}

impl VerifiedWebhook {
    pub fn source(&self) -> Source {
        self.source
    }
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

/// How one source authenticates, built from its config section.
#[derive(Debug, Clone)]
pub enum Verifier {
    PagerDuty {
        secrets: Vec<Secret>,
    },
    GrafanaIncident {
        secrets: Vec<Secret>,
        tolerance: Duration,
    },
    /// Opsgenie and Grafana OnCall. Holds SHA-256 digests of the tokens so that comparisons are
    /// fixed-length and constant-time.
    Token {
        digests: Vec<[u8; 32]>,
    },
}

impl Verifier {
    pub fn tokens(tokens: &[Secret]) -> Self {
        Verifier::Token {
            digests: tokens
                .iter()
                .map(|t| sha256(t.expose().as_bytes()))
                .collect(),
        }
    }

    /// Check a request and, on success, wrap it as a [`VerifiedWebhook`].
    pub fn verify(
        &self,
        source: Source,
        headers: HeaderMap,
        body: Bytes,
        now: DateTime<Utc>,
    ) -> Result<VerifiedWebhook, AuthFailure> {
        match self {
            Verifier::PagerDuty { secrets } => verify_pagerduty(secrets, &headers, &body)?,
            Verifier::GrafanaIncident { secrets, tolerance } => {
                verify_grafana_incident(secrets, *tolerance, now, &headers, &body)?
            }
            Verifier::Token { digests } => verify_token(digests, &headers)?,
        }
        Ok(VerifiedWebhook {
            source,
            body,
            headers,
        })
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, AuthFailure> {
    headers
        .get(name)
        .ok_or(AuthFailure::Missing)?
        .to_str()
        .map_err(|_| AuthFailure::Malformed)
}

/// True if any of `signatures` is the HMAC of `message` under any of `secrets`. Tries every pair
/// so that the time taken does not depend on which one matched.
fn any_hmac_matches(secrets: &[Secret], message: &[&[u8]], signatures: &[Vec<u8>]) -> bool {
    let mut matched = false;
    for secret in secrets {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose().as_bytes()) else {
            continue;
        };
        for part in message {
            mac.update(part);
        }
        for sig in signatures {
            matched |= mac.clone().verify_slice(sig).is_ok();
        }
    }
    matched
}

/// Hex signatures tagged `v1=` in a comma-separated header; other schemes are skipped.
fn v1_signatures<'a>(parts: impl Iterator<Item = &'a str>) -> Vec<Vec<u8>> {
    parts
        .filter_map(|p| p.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h.trim()).ok())
        .take(MAX_SIGNATURES)
        .collect()
}

pub fn verify_pagerduty(
    secrets: &[Secret],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AuthFailure> {
    let value = header(headers, "x-pagerduty-signature")?;
    let signatures = v1_signatures(value.split(','));
    if signatures.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    if any_hmac_matches(secrets, &[body], &signatures) {
        Ok(())
    } else {
        Err(AuthFailure::Mismatch)
    }
}

pub fn verify_grafana_incident(
    secrets: &[Secret],
    tolerance: Duration,
    now: DateTime<Utc>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AuthFailure> {
    let value = header(headers, "gi-signature")?;
    let mut timestamp = None;
    for part in value.split(',') {
        if let Some(t) = part.trim().strip_prefix("t=") {
            timestamp = Some(t.trim());
        }
    }
    let t = timestamp.ok_or(AuthFailure::Malformed)?;
    let unix: i64 = t.parse().map_err(|_| AuthFailure::Malformed)?;
    let signatures = v1_signatures(value.split(','));
    if signatures.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    let age = now.timestamp().abs_diff(unix);
    if age > tolerance.as_secs() {
        return Err(AuthFailure::Stale);
    }
    let body_hash = base64::engine::general_purpose::STANDARD.encode(sha256(body));
    let message: [&[u8]; 4] = [body_hash.as_bytes(), b":", t.as_bytes(), b":v1"];
    if any_hmac_matches(secrets, &message, &signatures) {
        Ok(())
    } else {
        Err(AuthFailure::Mismatch)
    }
}

/// The token a request presents, from whichever of the three accepted places holds one.
fn presented_token(headers: &HeaderMap) -> Result<Vec<u8>, AuthFailure> {
    if let Some(value) = headers.get("x-breakglass-token") {
        return Ok(value.as_bytes().to_vec());
    }
    let auth = header(headers, "authorization")?;
    let (scheme, rest) = auth.split_once(' ').ok_or(AuthFailure::Malformed)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(rest.as_bytes().to_vec())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| AuthFailure::Malformed)?;
        // The token is the password; the user name is ignored.
        let colon = decoded
            .iter()
            .position(|&b| b == b':')
            .ok_or(AuthFailure::Malformed)?;
        Ok(decoded[colon + 1..].to_vec())
    } else {
        Err(AuthFailure::Malformed)
    }
}

pub fn verify_token(digests: &[[u8; 32]], headers: &HeaderMap) -> Result<(), AuthFailure> {
    let presented = sha256(&presented_token(headers)?);
    let matched = digests
        .iter()
        .fold(subtle::Choice::from(0), |acc, d| acc | d.ct_eq(&presented));
    if bool::from(matched) {
        Ok(())
    } else {
        Err(AuthFailure::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use chrono::TimeZone;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    /// PagerDuty's published vector (go-pagerduty webhookv3_test.go).
    #[test]
    fn pagerduty_signature_vector() {
        let secrets = [Secret::new(
            "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK",
        )];
        let body = include_bytes!(
            "../../tests/fixtures/pagerduty/signature-vector.incident.priority_updated.body.json"
        );
        assert_eq!(body.len(), 1655);
        let good = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd";
        let bad = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5";
        let check =
            |h: &str| verify_pagerduty(&secrets, &headers("x-pagerduty-signature", h), body);
        assert_eq!(check(good), Ok(()));
        assert_eq!(check(bad), Err(AuthFailure::Mismatch));
        assert_eq!(check(&format!("{bad},{good}")), Ok(()));
        assert_eq!(check("v0=abc"), Err(AuthFailure::Malformed));
        assert_eq!(
            verify_pagerduty(&secrets, &HeaderMap::new(), body),
            Err(AuthFailure::Missing)
        );
        // One byte changed in the body.
        let mut tampered = body.to_vec();
        tampered[100] ^= 1;
        assert_eq!(
            verify_pagerduty(&secrets, &headers("x-pagerduty-signature", good), &tampered),
            Err(AuthFailure::Mismatch)
        );
    }

    /// Grafana Incident's published vector (grafana/incident-go webhook_test.go).
    #[test]
    fn grafana_incident_signature_vector() {
        let secrets = [Secret::new("some-secret-value")];
        let body = include_bytes!(
            "../../tests/fixtures/grafana-incident/signature-vector.grafana.incident.updated.role.body.json"
        );
        let header =
            "t=1678360185,v1=66ed620915831e9ab71604bf35d9b7cf2e71978ed6e62be6fd0e5194289849c7";
        let at = |unix: i64| Utc.timestamp_opt(unix, 0).unwrap();
        let tolerance = Duration::from_secs(300);
        let check = |h: &str, now| {
            verify_grafana_incident(&secrets, tolerance, now, &headers("gi-signature", h), body)
        };
        assert_eq!(check(header, at(1678360185)), Ok(()));
        assert_eq!(check(header, at(1678360185 + 300)), Ok(()));
        assert_eq!(check(header, at(1678360185 + 301)), Err(AuthFailure::Stale));
        assert_eq!(check(header, at(1678360185 - 301)), Err(AuthFailure::Stale));
        // The invalid example from the same test file.
        assert_eq!(
            check("t=123456,v1=some-bad-signature", at(123456)),
            Err(AuthFailure::Malformed)
        );
        // A valid MAC moved to another timestamp no longer matches.
        let moved = header.replace("t=1678360185", "t=1678360186");
        assert_eq!(check(&moved, at(1678360185)), Err(AuthFailure::Mismatch));
        assert_eq!(check("v1=00", at(0)), Err(AuthFailure::Malformed));
    }

    #[test]
    fn tokens_come_from_bearer_basic_or_the_custom_header() {
        let verifier = Verifier::tokens(&[Secret::new("old-token"), Secret::new("new-token")]);
        let Verifier::Token { digests } = &verifier else {
            unreachable!()
        };
        let basic = base64::engine::general_purpose::STANDARD.encode("opsgenie:new-token");
        for h in [
            headers("authorization", "Bearer new-token"),
            headers("authorization", "bearer old-token"),
            headers("authorization", &format!("Basic {basic}")),
            headers("x-breakglass-token", "old-token"),
        ] {
            assert_eq!(verify_token(digests, &h), Ok(()));
        }
        let wrong_basic = base64::engine::general_purpose::STANDARD.encode("new-token:x");
        for (h, why) in [
            (
                headers("authorization", "Bearer new-token2"),
                AuthFailure::Mismatch,
            ),
            (
                headers("authorization", &format!("Basic {wrong_basic}")),
                AuthFailure::Mismatch,
            ),
            (
                headers("authorization", "Basic !!!"),
                AuthFailure::Malformed,
            ),
            (
                headers("authorization", "Token new-token"),
                AuthFailure::Malformed,
            ),
            (HeaderMap::new(), AuthFailure::Missing),
        ] {
            assert_eq!(verify_token(digests, &h), Err(why));
        }
    }
}
