//! OIDC JWTs on the responder API: the real app, tokens signed with the test-only keys in
//! `tests/fixtures/oidc`, and the JWKS from a file or from a small HTTP server standing in for the
//! identity provider.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use breakglass::{App, Config};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "breakglass";
const INCIDENT: &str = "pagerduty:PFQZPSY";

fn oidc_path(name: &str) -> String {
    format!("{}/tests/fixtures/oidc/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The `[auth.oidc]` table, with `jwks` naming the keys (`jwks_file = ...` or `jwks_url = ...`).
fn oidc_section(jwks: &str) -> String {
    format!(
        "[auth.oidc]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n{jwks}\nadmins = [\"carol@example.com\"]\n"
    )
}

/// The app with `[auth.oidc]`, and an open incident on which alice (not bob) is a responder.
async fn start(jwks: &str) -> TestApp {
    let tail = oidc_section(jwks);
    let app = TestApp::start_with(Extra {
        tail: &tail,
        ..Extra::default()
    })
    .await;
    let (status, _) = app
        .pagerduty(&fixture("pagerduty/incident.triggered.json"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app
}

async fn start_with_jwks_file() -> TestApp {
    start(&format!("jwks_file = \"{}\"", oidc_path("jwks.json"))).await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(email: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": format!("idp|{email}"),
        "email": email,
        "iat": now(),
        "exp": now() + 300,
    })
}

fn sign(alg: Algorithm, key_file: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = fixture(&format!("oidc/{key_file}"));
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// An RS256 token from the IdP's current RSA key.
fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, "rsa-1.pem", Some("rsa-1"), claims)
}

fn incident_path() -> String {
    format!("/v1/incidents/{INCIDENT}")
}

async fn assert_unauthenticated(app: &TestApp, token: &str, what: &str) -> String {
    let (status, body) = app.get(&incident_path(), token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(body["error"]["code"], "unauthenticated", "{what}: {body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn rs256_and_es256_tokens_authenticate_as_their_email() {
    let app = start_with_jwks_file().await;
    let es256 = sign(
        Algorithm::ES256,
        "ec-1.pem",
        Some("ec-1"),
        &claims("alice@example.com"),
    );
    for token in [rs256(&claims("alice@example.com")), es256] {
        let (status, body) = app.get(&incident_path(), &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], INCIDENT);
        let (status, body) = app.get("/v1/incidents", &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["incidents"][0]["id"], INCIDENT);
    }
    // Bob is not on the incident: authenticated as bob, so refused as bob.
    let (status, body) = app
        .get(&incident_path(), &rs256(&claims("bob@example.com")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
}

#[tokio::test]
async fn emails_listed_as_admins_read_every_incident() {
    let app = start_with_jwks_file().await;
    let (status, body) = app
        .get(&incident_path(), &rs256(&claims("carol@example.com")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .get(&incident_path(), &rs256(&claims("dave@example.com")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn static_api_tokens_still_work_beside_oidc() {
    let app = start_with_jwks_file().await;
    assert_eq!(
        app.get(&incident_path(), ALICE_TOKEN).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&incident_path(), BOB_TOKEN).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn forged_and_invalid_tokens_are_refused_with_401() {
    let app = start_with_jwks_file().await;
    let alice = claims("alice@example.com");
    let with = |claim: &str, value: Value| {
        let mut c = alice.clone();
        c[claim] = value;
        c
    };
    let mut no_email = alice.clone();
    no_email.as_object_mut().unwrap().remove("email");
    // HS256 keyed with the RSA public key, which anyone can download: algorithm confusion.
    let public_pem = fixture("oidc/rsa-1.pub.pem");
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let confused =
        jsonwebtoken::encode(&hs_header, &alice, &EncodingKey::from_secret(&public_pem)).unwrap();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(alice.to_string())
    );
    let cases = [
        (
            "forged: another key under a trusted kid",
            sign(Algorithm::RS256, "attacker.pem", Some("rsa-1"), &alice),
        ),
        ("expired", rs256(&with("exp", json!(now() - 120)))),
        ("not yet valid", rs256(&with("nbf", json!(now() + 300)))),
        ("wrong audience", rs256(&with("aud", json!("another-app")))),
        (
            "wrong issuer",
            rs256(&with("iss", json!("https://evil.example.com"))),
        ),
        ("no email claim", rs256(&no_email)),
        ("alg none", alg_none),
        ("HS256 with the RSA public key", confused),
        ("garbage", "garbage".to_string()),
        (
            "garbage in JWT shape",
            "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl".into(),
        ),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        let message = assert_unauthenticated(&app, &token, what).await;
        assert!(!message.contains("signature"), "{what}: {message}");
    }
}

#[tokio::test]
async fn refusals_of_well_signed_tokens_say_what_to_do() {
    let app = start_with_jwks_file().await;
    let mut expired = claims("alice@example.com");
    expired["exp"] = json!(now() - 120);
    let message = assert_unauthenticated(&app, &rs256(&expired), "expired").await;
    assert!(message.contains("expired"), "{message}");
    let mut no_email = claims("alice@example.com");
    no_email.as_object_mut().unwrap().remove("email");
    let message = assert_unauthenticated(&app, &rs256(&no_email), "no email").await;
    assert!(message.contains("`email`"), "{message}");
}

#[tokio::test]
async fn a_bad_jwks_file_fails_start_up_naming_the_key() {
    let redis = Redis::start();
    for file in ["missing.json", "rsa-1.pem"] {
        let tail = oidc_section(&format!("jwks_file = \"{}\"", oidc_path(file)));
        let extra = Extra {
            tail: &tail,
            ..Extra::default()
        };
        let config = Config::from_toml_str(&config_toml(&redis.url(), &extra)).unwrap();
        let err = App::build(config).await.err().expect("start-up fails");
        assert!(
            err.to_string().contains("`auth.oidc.jwks_file`"),
            "{file}: {err}"
        );
    }
}

/// A stand-in for the IdP's `jwks_uri`: serves whatever document it is given, and counts fetches.
struct JwksServer {
    url: String,
    shared: Arc<Served>,
}

struct Served {
    document: Mutex<(AxumStatus, Vec<u8>)>,
    fetches: AtomicUsize,
}

impl JwksServer {
    async fn start(file: &str) -> JwksServer {
        let shared = Arc::new(Served {
            document: Mutex::new((AxumStatus::OK, fixture(&format!("oidc/{file}")))),
            fetches: AtomicUsize::new(0),
        });
        let router = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(|State(s): State<Arc<Served>>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    s.document.lock().unwrap().clone()
                }),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        JwksServer { url, shared }
    }

    fn serve(&self, file: &str) {
        *self.shared.document.lock().unwrap() = (AxumStatus::OK, fixture(&format!("oidc/{file}")));
    }

    fn fail(&self) {
        *self.shared.document.lock().unwrap() = (AxumStatus::SERVICE_UNAVAILABLE, b"down".to_vec());
    }

    fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }
}

async fn start_with_jwks_url(idp: &JwksServer) -> TestApp {
    start(&format!("jwks_url = \"{}\"", idp.url)).await
}

#[tokio::test]
async fn keys_from_a_jwks_url_are_cached() {
    let idp = JwksServer::start("jwks.json").await;
    let app = start_with_jwks_url(&idp).await;
    let token = rs256(&claims("alice@example.com"));
    for _ in 0..5 {
        assert_eq!(app.get(&incident_path(), &token).await.0, StatusCode::OK);
    }
    assert_eq!(idp.fetches(), 1);
    // The IdP goes down: the cached keys keep working.
    idp.fail();
    let unknown = sign(
        Algorithm::RS256,
        "rsa-2.pem",
        Some("rsa-2"),
        &claims("alice@example.com"),
    );
    assert_unauthenticated(&app, &unknown, "unknown kid while the IdP is down").await;
    assert_eq!(idp.fetches(), 2, "the unknown kid made one fetch");
    assert_eq!(app.get(&incident_path(), &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_without_a_restart() {
    let idp = JwksServer::start("jwks.json").await;
    let app = start_with_jwks_url(&idp).await;
    let old = rs256(&claims("alice@example.com"));
    let new = sign(
        Algorithm::RS256,
        "rsa-2.pem",
        Some("rsa-2"),
        &claims("alice@example.com"),
    );
    assert_eq!(app.get(&incident_path(), &old).await.0, StatusCode::OK);
    idp.serve("jwks-rotated.json");
    let (status, body) = app.get(&incident_path(), &new).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The old key left the JWKS, so its tokens stop working.
    assert_unauthenticated(&app, &old, "token of the retired key").await;
    // The ES256 key was kept through the rotation.
    let es256 = sign(
        Algorithm::ES256,
        "ec-1.pem",
        Some("ec-1"),
        &claims("alice@example.com"),
    );
    assert_eq!(app.get(&incident_path(), &es256).await.0, StatusCode::OK);
    assert_eq!(idp.fetches(), 2);
}

#[tokio::test]
async fn forged_kids_cannot_make_the_service_hammer_the_idp() {
    let idp = JwksServer::start("jwks.json").await;
    let app = start_with_jwks_url(&idp).await;
    for i in 0..20 {
        let kid = format!("forged-{i}");
        let token = sign(
            Algorithm::RS256,
            "attacker.pem",
            Some(&kid),
            &claims("alice@example.com"),
        );
        assert_unauthenticated(&app, &token, &kid).await;
    }
    // One fetch to fill the cache, one for the first unknown kid; then none for 30 s.
    assert!(idp.fetches() <= 2, "{} fetches", idp.fetches());
}

#[tokio::test]
async fn tokens_are_accepted_once_an_unreachable_idp_answers() {
    let idp = JwksServer::start("jwks.json").await;
    idp.fail();
    let app = start_with_jwks_url(&idp).await;
    let token = rs256(&claims("alice@example.com"));
    let message = assert_unauthenticated(&app, &token, "IdP down").await;
    assert!(message.contains("retry"), "{message}");
    idp.serve("jwks.json");
    let (status, body) = app.get(&incident_path(), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
