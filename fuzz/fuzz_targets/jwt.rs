//! The API's bearer path: static tokens, then OIDC JWTs (header, algorithm and key selection,
//! signature, issuer, audience, times, the email claim), and the JWKS parser.
//!
//! Properties: nothing panics; a token not signed by the IdP's key is never accepted; a signed
//! token is accepted only with the right issuer and audience, an `exp` not past (with the
//! leeway), no `nbf` in the future, and the principal is the token's email claim.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use breakglass::auth::jwks::KeySet;
use breakglass::auth::oidc::{OidcVerifier, LEEWAY};
use breakglass::auth::{token_digest_hex, ApiAuth};
use breakglass::config::{ApiToken, Auth, Oidc};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "breakglass";
const STATIC_TOKEN: &str = "fuzz-static-api-token";

#[derive(Debug, Arbitrary)]
enum Input {
    /// A whole `Authorization` value.
    Bearer(Vec<u8>),
    /// Any header and claims bytes, signed with the IdP's key.
    Signed {
        key: KeyChoice,
        header: Vec<u8>,
        claims: Vec<u8>,
    },
    /// Claims close to a real token's, signed with the IdP's key.
    Shaped(Shaped),
    /// A JWKS document.
    Jwks(Vec<u8>),
}

/// Which of the IdP's keys signs. RSA signing in software is slow (milliseconds), so one input
/// in 256 takes the RSA key; the rest take the EC key, and the fuzzer runs hundreds of times as
/// many inputs through the claims checks.
#[derive(Debug, Arbitrary)]
struct KeyChoice(u8);

impl KeyChoice {
    fn es256(&self) -> bool {
        self.0 != 0
    }
}

#[derive(Debug, Arbitrary)]
struct Shaped {
    key: KeyChoice,
    alg: Option<String>,
    kid: Option<String>,
    right_issuer: bool,
    issuer: String,
    audience: Audience,
    exp: Option<i32>,
    nbf: Option<i32>,
    email: Option<String>,
    email_verified: Option<Value0>,
    extra: Vec<(String, String)>,
}

#[derive(Debug, Arbitrary)]
enum Audience {
    Right,
    InList(Vec<String>),
    Other(String),
    Absent,
}

#[derive(Debug, Arbitrary)]
enum Value0 {
    Bool(bool),
    Text(String),
}

struct World {
    runtime: tokio::runtime::Runtime,
    oidc: OidcVerifier,
    api: ApiAuth,
    ec: EncodingKey,
    rsa: EncodingKey,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let jwks =
            std::env::temp_dir().join(format!("breakglass-fuzz-jwks-{}.json", std::process::id()));
        std::fs::write(&jwks, include_bytes!("../../tests/fixtures/oidc/jwks.json")).unwrap();
        let oidc = Oidc {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: None,
            jwks_file: Some(jwks),
            email_claim: "email".into(),
            admins: vec!["root@example.com".into()],
        };
        let auth = Auth {
            tokens: vec![ApiToken {
                sha256: token_digest_hex(STATIC_TOKEN),
                subject: "ops".into(),
                admin: true,
            }],
            oidc: Some(oidc.clone()),
        };
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            oidc: OidcVerifier::new(&oidc).unwrap(),
            api: ApiAuth::from_config(&auth).unwrap(),
            ec: EncodingKey::from_ec_pem(include_bytes!("../../tests/fixtures/oidc/ec-1.pem"))
                .unwrap(),
            rsa: EncodingKey::from_rsa_pem(include_bytes!("../../tests/fixtures/oidc/rsa-1.pem"))
                .unwrap(),
        }
    })
}

fn now() -> u64 {
    common::now().timestamp() as u64
}

/// `header.claims.signature`, signed with the IdP's EC or RSA key.
fn sign(es256: bool, header: &[u8], claims: &[u8]) -> String {
    let w = world();
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let (key, alg) = if es256 {
        (&w.ec, Algorithm::ES256)
    } else {
        (&w.rsa, Algorithm::RS256)
    };
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// A token the IdP signed was accepted: its claims must say so.
fn assert_acceptable(claims: &[u8], subject: &str) {
    let claims: Map<String, Value> =
        serde_json::from_slice(claims).expect("accepted claims are JSON");
    assert_eq!(
        claims.get("iss"),
        Some(&json!(ISSUER)),
        "wrong issuer accepted"
    );
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(list)) => list.contains(&json!(AUDIENCE)),
        _ => false,
    };
    assert!(aud_ok, "wrong audience accepted");
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .expect("no exp accepted");
    assert!(
        exp + LEEWAY as f64 >= now() as f64,
        "expired token accepted"
    );
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        assert!(
            nbf <= (now() + LEEWAY) as f64,
            "not-yet-valid token accepted"
        );
    }
    let unverified = matches!(claims.get("email_verified"), Some(v) if *v == json!(false) || *v == json!("false"));
    assert!(!unverified, "an unverified email accepted");
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .expect("no email accepted");
    assert_eq!(email.trim(), subject);
}

fn verify(es256: bool, header: &[u8], claims: &[u8]) {
    let w = world();
    let token = sign(es256, header, claims);
    if let Ok(principal) = w.runtime.block_on(w.oidc.verify_at(&token, now())) {
        assert_acceptable(claims, &principal.subject);
    }
}

fuzz_target!(|input: Input| {
    let w = world();
    match input {
        Input::Bearer(value) => {
            // The real clock: a fuzzed token is not signed, so time does not matter.
            if let Ok(principal) = w.runtime.block_on(w.api.authenticate(Some(&value))) {
                assert_eq!(
                    principal.subject, "ops",
                    "an unsigned bearer value was accepted"
                );
            }
        }
        Input::Signed {
            key,
            header,
            claims,
        } => verify(key.es256(), &header, &claims),
        Input::Shaped(s) => {
            let es256 = s.key.es256();
            let alg = s
                .alg
                .unwrap_or_else(|| if es256 { "ES256" } else { "RS256" }.into());
            let mut header = json!({"alg": alg, "typ": "JWT"});
            if let Some(kid) = s.kid {
                header["kid"] = json!(kid);
            }
            let mut claims = Map::new();
            for (k, v) in s.extra {
                claims.insert(k, json!(v));
            }
            claims.insert(
                "iss".into(),
                json!(if s.right_issuer {
                    ISSUER.to_string()
                } else {
                    s.issuer
                }),
            );
            match s.audience {
                Audience::Right => claims.insert("aud".into(), json!(AUDIENCE)),
                Audience::InList(list) => claims.insert("aud".into(), json!(list)),
                Audience::Other(a) => claims.insert("aud".into(), json!(a)),
                Audience::Absent => None,
            };
            if let Some(exp) = s.exp {
                claims.insert("exp".into(), json!(now() as i64 + i64::from(exp)));
            }
            if let Some(nbf) = s.nbf {
                claims.insert("nbf".into(), json!(now() as i64 + i64::from(nbf)));
            }
            if let Some(email) = s.email {
                claims.insert("email".into(), json!(email));
            }
            match s.email_verified {
                Some(Value0::Bool(b)) => claims.insert("email_verified".into(), json!(b)),
                Some(Value0::Text(t)) => claims.insert("email_verified".into(), json!(t)),
                None => None,
            };
            let header = serde_json::to_vec(&header).unwrap();
            let claims = serde_json::to_vec(&claims).unwrap();
            verify(es256, &header, &claims);
        }
        Input::Jwks(document) => {
            if let Ok(set) = KeySet::parse(&document) {
                let _ = set.has_kid("ec-1");
            }
        }
    }
});
