//! What the fuzz targets share: a fixed clock, HMACs as the providers compute them, and header
//! maps built from fuzzed bytes (a value HTTP would refuse is left out, as hyper would).
#![allow(dead_code)]

use breakglass::webhooks::{self, NormalizeOptions, VerifiedWebhook};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

/// The instant every target runs at, so that a crash replays the same way.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid instant")
}

pub fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Headers from fuzzed (name, value) pairs.
pub fn headers(pairs: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

pub fn insert(map: &mut HeaderMap, name: &'static str, value: &[u8]) -> bool {
    match HeaderValue::from_bytes(value) {
        Ok(value) => {
            map.insert(name, value);
            true
        }
        Err(_) => false,
    }
}

/// Normalize a verified webhook and check what came out can be stored: every event serializes.
pub fn normalize(webhook: &VerifiedWebhook, observers: bool) {
    let options = NormalizeOptions {
        observers_are_responders: observers,
    };
    if let Ok(webhooks::Normalized::Events(events)) = webhooks::normalize(webhook, &options, now())
    {
        for event in events {
            serde_json::to_string(&event).expect("a normalized event serializes");
        }
    }
}

/// The shared token the token-authenticated sources are configured with (beside an older one).
pub const TOKEN: &str = "fuzz-token-0123456789abcdef";

pub fn tokens() -> Vec<breakglass::secret::Secret> {
    vec![
        breakglass::secret::Secret::new("an-older-token"),
        breakglass::secret::Secret::new(TOKEN),
    ]
}

/// Where a request puts its token, and whether it is the genuine one or fuzzed bytes.
#[derive(Debug, arbitrary::Arbitrary)]
pub enum Presented {
    Nothing,
    Bearer(Vec<u8>),
    Basic {
        user: Vec<u8>,
        password: Vec<u8>,
    },
    Header(Vec<u8>),
    /// A raw `Authorization` value.
    Raw(Vec<u8>),
}

#[derive(Debug, arbitrary::Arbitrary)]
pub struct TokenInput {
    how: Presented,
    genuine: bool,
}

impl TokenInput {
    fn secret<'a>(&self, fuzzed: &'a [u8]) -> &'a [u8] {
        if self.genuine {
            TOKEN.as_bytes()
        } else {
            fuzzed
        }
    }

    /// The request's headers (`extra` without any token header, plus this token) and whether
    /// they carry exactly the genuine token in one of the accepted places.
    pub fn headers(&self, extra: &[(String, Vec<u8>)]) -> (HeaderMap, bool) {
        use base64::Engine as _;
        let mut map = headers(extra);
        map.remove("authorization");
        map.remove("x-breakglass-token");
        let token = TOKEN.as_bytes();
        let presented = match &self.how {
            Presented::Nothing => false,
            Presented::Bearer(fuzzed) => {
                let secret = self.secret(fuzzed);
                let value = [b"Bearer ".as_slice(), secret].concat();
                insert(&mut map, "authorization", &value) && secret.trim_ascii() == token
            }
            Presented::Basic { user, password } => {
                let user: Vec<u8> = user.iter().copied().filter(|&b| b != b':').collect();
                let secret = self.secret(password);
                let pair = [&user, b":".as_slice(), secret].concat();
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                insert(&mut map, "authorization", value.as_bytes()) && secret == token
            }
            Presented::Header(fuzzed) => {
                let secret = self.secret(fuzzed);
                insert(&mut map, "x-breakglass-token", secret) && secret == token
            }
            Presented::Raw(value) => {
                let bearer = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.split_once(' '))
                    .is_some_and(|(scheme, rest)| {
                        scheme.eq_ignore_ascii_case("bearer") && rest.trim().as_bytes() == token
                    });
                insert(&mut map, "authorization", value) && bearer
            }
        };
        (map, presented)
    }
}

/// A request to a token-authenticated source (Opsgenie, Grafana OnCall).
#[derive(Debug, arbitrary::Arbitrary)]
pub struct TokenWebhook {
    token: TokenInput,
    extra: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Check a token webhook: accepted exactly when the genuine token is presented; then parsed,
/// through the verified path or, when refused, straight through `parse`.
pub fn token_webhook(
    input: TokenWebhook,
    source: breakglass::incidents::Source,
    parse: impl Fn(&[u8]),
) {
    let verifier = breakglass::webhooks::auth::Verifier::tokens(&tokens());
    let (headers, presented) = input.token.headers(&input.extra);
    let body = bytes::Bytes::from(input.body);
    match verifier.verify(source, headers, body.clone(), now()) {
        Ok(webhook) => {
            assert!(presented, "accepted without the token");
            normalize(&webhook, false);
        }
        Err(_) => {
            assert!(!presented, "the token was refused");
            parse(&body);
        }
    }
}
