//! Unit tests of JWT verification against the test-only keys in `tests/fixtures/oidc`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "breakglass";
const NOW: u64 = 1_700_000_000;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oidc")
        .join(name)
}

fn config(jwks_file: std::path::PathBuf) -> Oidc {
    Oidc {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks_url: None,
        jwks_file: Some(jwks_file),
        email_claim: "email".into(),
        admins: vec!["Ops@Example.com".into()],
    }
}

fn verifier() -> OidcVerifier {
    OidcVerifier::new(&config(fixture("jwks.json"))).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "00u1",
        "email": "alice@example.com",
        "iat": NOW,
        "exp": NOW + 300,
    })
}

fn key(name: &str, alg: Algorithm) -> EncodingKey {
    let pem = std::fs::read(fixture(name)).unwrap();
    match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
    }
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(claims: &Value) -> String {
    sign(
        Algorithm::RS256,
        &key("rsa-1.pem", Algorithm::RS256),
        Some("rsa-1"),
        claims,
    )
}

/// A token put together by hand, for headers the library refuses to produce.
fn hand_built(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

async fn verify(token: &str) -> Result<Principal, OidcError> {
    verifier().verify_at(token, NOW).await
}

#[tokio::test]
async fn rs256_and_es256_tokens_are_accepted_with_the_email_as_subject() {
    let es256 = sign(
        Algorithm::ES256,
        &key("ec-1.pem", Algorithm::ES256),
        Some("ec-1"),
        &claims(),
    );
    for token in [rs256(&claims()), es256] {
        let principal = verify(&token).await.unwrap();
        assert_eq!(principal.subject, "alice@example.com");
        assert!(!principal.admin);
    }
}

#[tokio::test]
async fn admins_are_listed_by_email_in_any_case() {
    let mut c = claims();
    c["email"] = "ops@EXAMPLE.com".into();
    let principal = verify(&rs256(&c)).await.unwrap();
    assert!(principal.admin);
    assert_eq!(principal.subject, "ops@EXAMPLE.com");
}

#[tokio::test]
async fn a_token_without_kid_uses_the_only_key_of_its_type() {
    let token = sign(
        Algorithm::ES256,
        &key("ec-1.pem", Algorithm::ES256),
        None,
        &claims(),
    );
    assert!(verify(&token).await.is_ok());
}

#[tokio::test]
async fn alg_none_and_every_hmac_algorithm_are_refused() {
    let none = hand_built(&json!({"alg": "none", "kid": "rsa-1"}), &claims(), b"");
    assert_eq!(
        verify(&none).await,
        Err(OidcError::Algorithm("none".into()))
    );
    // Algorithm confusion: HMAC keyed with the RSA public key's PEM, which an attacker can get.
    let public_pem = std::fs::read(fixture("rsa-1.pub.pem")).unwrap();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let token = sign(
            alg,
            &EncodingKey::from_secret(&public_pem),
            Some("rsa-1"),
            &claims(),
        );
        assert!(
            matches!(verify(&token).await, Err(OidcError::Algorithm(_))),
            "{alg:?}"
        );
    }
    for alg in [Algorithm::RS512, Algorithm::PS256] {
        let token = sign(alg, &key("rsa-1.pem", alg), Some("rsa-1"), &claims());
        assert!(
            matches!(verify(&token).await, Err(OidcError::Algorithm(_))),
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn the_algorithm_must_match_the_type_of_the_selected_key() {
    // An RS256 token naming the EC key, and an ES256 token naming the RSA key.
    let rs = sign(
        Algorithm::RS256,
        &key("rsa-1.pem", Algorithm::RS256),
        Some("ec-1"),
        &claims(),
    );
    let es = sign(
        Algorithm::ES256,
        &key("ec-1.pem", Algorithm::ES256),
        Some("rsa-1"),
        &claims(),
    );
    assert!(matches!(
        verify(&rs).await,
        Err(OidcError::NoKey {
            kind: KeyKind::Rsa,
            ..
        })
    ));
    assert!(matches!(
        verify(&es).await,
        Err(OidcError::NoKey {
            kind: KeyKind::EcP256,
            ..
        })
    ));
}

#[tokio::test]
async fn a_token_signed_by_another_key_under_a_trusted_kid_is_refused() {
    let forged = sign(
        Algorithm::RS256,
        &key("attacker.pem", Algorithm::RS256),
        Some("rsa-1"),
        &claims(),
    );
    assert_eq!(verify(&forged).await, Err(OidcError::Signature));
    // A key embedded in the header is never used.
    let attacker_jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &key("attacker.pem", Algorithm::RS256),
        Algorithm::RS256,
    )
    .unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    header.jwk = Some(attacker_jwk);
    let embedded =
        jsonwebtoken::encode(&header, &claims(), &key("attacker.pem", Algorithm::RS256)).unwrap();
    assert_eq!(verify(&embedded).await, Err(OidcError::Signature));
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let token = rs256(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut c = claims();
    c["email"] = "mallory@example.com".into();
    let payload = URL_SAFE_NO_PAD.encode(c.to_string());
    parts[1] = &payload;
    assert_eq!(verify(&parts.join(".")).await, Err(OidcError::Signature));
}

#[tokio::test]
async fn expiry_and_not_before_are_checked_with_30_seconds_of_leeway() {
    let v = verifier();
    let mut c = claims();
    c["exp"] = (NOW - 10).into();
    let token = rs256(&c);
    assert!(v.verify_at(&token, NOW).await.is_ok(), "within leeway");
    assert_eq!(v.verify_at(&token, NOW + 21).await, Err(OidcError::Expired));

    let mut c = claims();
    c["nbf"] = (NOW + 60).into();
    let token = rs256(&c);
    assert_eq!(v.verify_at(&token, NOW).await, Err(OidcError::NotYetValid));
    assert!(v.verify_at(&token, NOW + 30).await.is_ok());

    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(v.verify_at(&rs256(&c), NOW).await, Err(OidcError::NoExpiry));
}

#[tokio::test]
async fn issuer_and_audience_must_be_ours_and_present() {
    for (claim, value, error) in [
        (
            "iss",
            json!("https://evil.example.com"),
            OidcError::WrongIssuer,
        ),
        ("aud", json!("another-app"), OidcError::WrongAudience),
        ("aud", json!(["another-app"]), OidcError::WrongAudience),
    ] {
        let mut c = claims();
        c[claim] = value;
        assert_eq!(verify(&rs256(&c)).await, Err(error));
    }
    let mut c = claims();
    c["aud"] = json!(["another-app", AUDIENCE]);
    assert!(verify(&rs256(&c)).await.is_ok(), "one of several audiences");
    for (claim, error) in [
        ("iss", OidcError::WrongIssuer),
        ("aud", OidcError::WrongAudience),
    ] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(claim);
        assert_eq!(verify(&rs256(&c)).await, Err(error));
    }
}

#[tokio::test]
async fn the_email_claim_must_be_a_non_empty_string() {
    for email in [Value::Null, json!(""), json!("  "), json!(42)] {
        let mut c = claims();
        c["email"] = email;
        assert_eq!(
            verify(&rs256(&c)).await,
            Err(OidcError::NoEmail("email".into()))
        );
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("email");
    assert_eq!(
        verify(&rs256(&c)).await,
        Err(OidcError::NoEmail("email".into()))
    );
    for flag in [json!(false), json!("false")] {
        let mut c = claims();
        c["email_verified"] = flag;
        assert_eq!(verify(&rs256(&c)).await, Err(OidcError::EmailNotVerified));
    }
}

#[tokio::test]
async fn the_email_claim_name_is_configurable() {
    let mut cfg = config(fixture("jwks.json"));
    cfg.email_claim = "upn".into();
    let v = OidcVerifier::new(&cfg).unwrap();
    let mut c = claims();
    c["upn"] = "carol@example.com".into();
    let principal = v.verify_at(&rs256(&c), NOW).await.unwrap();
    assert_eq!(principal.subject, "carol@example.com");
}

#[tokio::test]
async fn malformed_tokens_and_critical_headers_are_refused() {
    for token in ["a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", "...", "not-a-jwt"] {
        assert_eq!(verify(token).await, Err(OidcError::Malformed), "{token}");
    }
    let crit = hand_built(
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]}),
        &claims(),
        b"x",
    );
    assert_eq!(verify(&crit).await, Err(OidcError::CriticalHeader));
}

#[test]
fn jwt_shaped_bearer_values_are_told_apart_from_api_tokens() {
    assert!(looks_like_jwt(b"eyJh.eyJz.c2ln"));
    assert!(looks_like_jwt(b"eyJh.eyJz."));
    assert!(!looks_like_jwt(b"alice-api-token"));
    assert!(!looks_like_jwt(b"a.b"));
    assert!(!looks_like_jwt(b"a.b.c.d"));
    assert!(!looks_like_jwt(b".b.c"));
    assert!(!looks_like_jwt(b"a b.c.d"));
}

#[test]
fn a_bad_jwks_file_fails_start_up_naming_the_key() {
    for path in [
        fixture("missing.json"),
        fixture("rsa-1.pem"),
        fixture("README.md"),
    ] {
        let err = OidcVerifier::new(&config(path)).err().expect("refused");
        assert_eq!(err.key, "auth.oidc.jwks_file");
    }
    let dir = tempfile::tempdir().unwrap();
    let hmac_only = dir.path().join("jwks.json");
    std::fs::write(&hmac_only, r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap();
    let err = OidcVerifier::new(&config(hmac_only)).err().unwrap();
    assert!(err.message.contains("no RS256"), "{}", err.message);
}

#[test]
fn the_oidc_section_is_validated_at_start_up_naming_the_key() {
    let err = |section: &str| {
        crate::config::Config::from_toml_str(&format!("[auth.oidc]\n{section}"))
            .err()
            .map(|e| e.key)
    };
    let ok = "issuer = \"https://idp.example.com\"\naudience = \"breakglass\"\n";
    let url = "jwks_url = \"https://idp.example.com/jwks\"\n";
    assert_eq!(err(&format!("{ok}{url}")), None);
    assert_eq!(
        err(&format!("{ok}{url}admins = [\"ops@example.com\"]\n")),
        None
    );
    for (section, key) in [
        (ok.to_string(), "auth.oidc.jwks_url"),
        (
            format!("{ok}{url}jwks_file = \"jwks.json\"\n"),
            "auth.oidc.jwks_url",
        ),
        (
            format!("{ok}jwks_url = \"ftp://idp.example.com/jwks\"\n"),
            "auth.oidc.jwks_url",
        ),
        (
            format!("{ok}jwks_url = \"idp.example.com/jwks\"\n"),
            "auth.oidc.jwks_url",
        ),
        (
            format!("issuer = \" \"\naudience = \"breakglass\"\n{url}"),
            "auth.oidc.issuer",
        ),
        (
            format!("issuer = \"https://idp.example.com\"\naudience = \"\"\n{url}"),
            "auth.oidc.audience",
        ),
        (
            format!("{ok}{url}admins = [\"ops@example.com\", \"ops\"]\n"),
            "auth.oidc.admins[1]",
        ),
    ] {
        assert_eq!(err(&section).as_deref(), Some(key), "{section}");
    }
}
