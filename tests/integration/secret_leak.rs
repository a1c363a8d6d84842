//! Secret hygiene over a whole lifecycle. The real binary runs with `BREAKGLASS_LOG=trace` (every
//! crate, every level) against a Redis ACL user and moto, with every secret and token set to a
//! recognizable canary (`CANARY-...`) taken from the config file, the environment or a file. The
//! four tools open incidents and add a responder, elevations are granted, read, reviewed,
//! exported and revoked, and requests carrying secrets in the wrong places are refused. Then no
//! canary, nor its base64 or hex form, nor a token's SHA-256, may appear in the logs, the
//! metrics, the audit and review exports, the API answers or the CLI's output; and no raw secret
//! may be stored in Redis.
//!
//! Two canaries are data, not secrets: an incident title and an elevation reason. They belong in
//! incident state, the audit trail and the reviews, but request bodies are never logged, so they
//! must not appear in the logs or the metrics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::elevation_support::{resolve_body, READ_POLICY};
use crate::harness::{
    edit, fixture, free_port, gi_signature, pd_signature, RedisServer, RESPONDERS_TOML,
};
use crate::moto::Moto;

/// Every secret and token of this test: unique, recognizable, all starting with `CANARY-`.
mod canary {
    /// `[sources.pagerduty] secrets`, inline in the config file.
    pub const PD_SECRET: &str = "CANARY-pd-secret-7f3a91c2e4d5";
    /// `[sources.pagerduty] secrets`, from the environment (a rotation's second secret).
    pub const PD_SECRET_OLD: &str = "CANARY-pd-secret-old-0b8e6a13f2c7";
    /// `[sources.grafana_incident] secrets`, from a file.
    pub const GI_SECRET: &str = "CANARY-gi-secret-5c29d8e1a7b4";
    /// `[sources.opsgenie] tokens`, from the environment.
    pub const OPSGENIE_TOKEN: &str = "CANARY-og-token-93e1f0c6b2a8";
    /// `[sources.grafana_oncall] tokens`, inline.
    pub const ONCALL_TOKEN: &str = "CANARY-oncall-token-4a7d2e9f1c03";
    /// `[sources.grafana_oncall] tokens`, from a file.
    pub const ONCALL_TOKEN_NEXT: &str = "CANARY-oncall-token-next-e61b3f08d94a";
    /// Static API tokens: the config holds only their SHA-256.
    pub const ALICE_TOKEN: &str = "CANARY-api-alice-2d8f4b1e6a90";
    pub const BOB_TOKEN: &str = "CANARY-api-bob-8c3e7a05f1d2";
    pub const ADMIN_TOKEN: &str = "CANARY-api-admin-f4a2c9e7b318";
    /// `[audit] key`, from the environment.
    pub const AUDIT_KEY: &str = "CANARY-audit-key-6e1d9b3f7a2c4e8d0b5f1a3c7e9d2b4f";
    /// `[audit] previous_keys`, inline.
    pub const AUDIT_KEY_PREVIOUS: &str = "CANARY-audit-previous-key-a9c3e5f7b1d2e4f6a8c0b2d4";
    /// The Redis ACL user's password, in `[redis] url`, which is read from a file.
    pub const REDIS_PASSWORD: &str = "CANARY-redis-pass-1b7e4d9a2c6f";
    /// The service's AWS credentials, from the environment (moto accepts any).
    pub const AWS_SECRET_ACCESS_KEY: &str = "CANARY-aws-secret-key-3f8b2d6e9a1c5e7b0d4f";
    pub const AWS_SESSION_TOKEN: &str = "CANARY-aws-session-token-c7e2a9f4b1d8e3a6";
    /// A claim inside alice's valid OIDC JWT (the token itself is checked as a whole too).
    pub const JWT_CLAIM: &str = "CANARY-jwt-claim-5e8a1c3f9b7d";

    // Sent in requests that are refused.
    pub const WRONG_PD_SECRET: &str = "CANARY-wrong-pd-secret-d1e7a4c9b2f0";
    pub const PD_SIGNATURE_HEADER: &str = "CANARY-pd-signature-header-83b0e5d2a6c1";
    pub const WRONG_OPSGENIE_TOKEN: &str = "CANARY-wrong-og-token-6f2d8b4e0a9c";
    pub const WRONG_BASIC_PASSWORD: &str = "CANARY-wrong-basic-password-29c7e1f5a3b8";
    pub const WRONG_ONCALL_TOKEN: &str = "CANARY-wrong-oncall-token-a4e8c2f6d0b1";
    pub const WRONG_API_TOKEN: &str = "CANARY-wrong-api-token-7b3f9d1e5c2a";
    pub const FORGED_JWT_CLAIM: &str = "CANARY-forged-jwt-claim-0e6c4a8f2d9b";
    pub const EXPIRED_JWT_CLAIM: &str = "CANARY-expired-jwt-claim-b5d1f7a3e9c2";
    /// The title of a webhook refused for its signature: it must go nowhere at all.
    pub const REFUSED_BODY: &str = "CANARY-refused-body-title-4c0e8a2d6f1b";
    /// Inside authenticated webhook bodies that are not valid JSON (400).
    pub const MALFORMED_OPSGENIE_BODY: &str = "CANARY-malformed-og-body-e3a7c1f9b5d2";
    pub const MALFORMED_PD_BODY: &str = "CANARY-malformed-pd-body-91f5d3b7e2a8";
    /// Inside an elevation request body that is not JSON.
    pub const MALFORMED_ELEVATION_BODY: &str = "CANARY-malformed-elevation-body-2a6e0c4f8d1b";
    /// Request headers that are not credentials breakglass reads.
    pub const API_KEY_HEADER: &str = "CANARY-x-api-key-header-5f9b3d7a1e0c";
    pub const COOKIE: &str = "CANARY-cookie-d8c2a6e0f4b7";

    /// Configs the CLI refuses or cannot use: a wrong Redis password, a secret under a key
    /// its source does not take.
    pub const WRONG_REDIS_PASSWORD: &str = "CANARY-wrong-redis-pass-8d2f6b0e4a7c";
    pub const MISPLACED_SECRET: &str = "CANARY-misplaced-secret-3e7a1d5c9f2b";

    // Data, not secrets: they may be stored and exported, but never logged.
    pub const TITLE: &str = "CANARY-title-of-the-incident-7a1c5e9b3d0f";
    pub const REASON: &str = "CANARY-reason-for-elevation-c3e9b5f1a7d2";
}

const REDIS_USER: &str = "bgleak";
/// Not a secret (it appears in every signed AWS request), so not a canary.
const AWS_ACCESS_KEY_ID: &str = "AKIABGLEAKTESTEXAMPLE";
const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "breakglass";
const PD_INCIDENT: &str = "pagerduty:PFQZPSY";
const OPSGENIE_ALERT: &str = "052652ac-5d1c-464a-812a-7dd18bbfba8c";
const OG_INCIDENT: &str = "opsgenie:052652ac-5d1c-464a-812a-7dd18bbfba8c";
const ONCALL_INCIDENT: &str = "grafana-oncall:I6HNZGUFG4K11";
const GI_INCIDENT: &str = "grafana-incident:19";
const WAIT: Duration = Duration::from_secs(20);

/// Where a canary was looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The service's stdout and stderr, and the CLI's output.
    Log,
    Metrics,
    /// The audit trail (HTTP and CLI) and the review exports.
    Export,
    /// Every other answer of the API and the webhooks.
    Api,
    /// Every key and value in Redis.
    Redis,
}

/// Where a canary must not be.
#[derive(Clone, Copy, Debug)]
enum Scope {
    /// A secret or a credential: nowhere.
    Secret,
    /// A token's SHA-256: the config holds it, and nothing else may. Not looked for in Redis.
    Digest,
    /// A refused request's body: nowhere but the caller's own answer.
    Body,
    /// Data (a title, a reason): only never in the logs or the metrics.
    Data,
}

impl Scope {
    fn covers(self, kind: Kind) -> bool {
        match self {
            Scope::Secret => true,
            Scope::Digest => kind != Kind::Redis,
            Scope::Body => kind != Kind::Api,
            Scope::Data => matches!(kind, Kind::Log | Kind::Metrics),
        }
    }
}

/// One string that must not be found, and what it is.
struct Needle {
    name: String,
    text: String,
    scope: Scope,
}

/// One text searched, and what it is.
struct Place {
    name: String,
    kind: Kind,
    text: String,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn basic(user: &str, password: &str) -> String {
    STANDARD.encode(format!("{user}:{password}"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn oidc_fixture(name: &str) -> String {
    format!("{}/tests/fixtures/oidc/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A JWT for alice@example.com signed with `key_file` under the trusted kid `rsa-1`.
fn jwt(key_file: &str, claim: &str, exp: i64) -> String {
    let claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "idp|alice@example.com",
        "email": "alice@example.com",
        "iat": now(),
        "exp": exp,
        "canary": claim,
    });
    let key = EncodingKey::from_rsa_pem(&fixture(&format!("oidc/{key_file}"))).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// The environment of every breakglass process of this test: the secrets the config names,
/// the service's AWS credentials, the most verbose logging; nothing inherited that would
/// override the config.
fn environment(command: &mut Command) {
    for name in [
        "BREAKGLASS_CONFIG",
        "BREAKGLASS_LISTEN",
        "BREAKGLASS_REDIS_URL",
        "BREAKGLASS_REDIS_PREFIX",
        "BREAKGLASS_AWS_ENDPOINT_URL",
        "BREAKGLASS_LOG_FORMAT",
        "BREAKGLASS_URL",
        "BREAKGLASS_TOKEN",
        "AWS_PROFILE",
    ] {
        command.env_remove(name);
    }
    command
        .env("BREAKGLASS_LOG", "trace")
        .env("RUST_LOG", "trace")
        .env("BG_LEAK_PD_SECRET_OLD", canary::PD_SECRET_OLD)
        .env("BG_LEAK_OPSGENIE_TOKEN", canary::OPSGENIE_TOKEN)
        .env("BG_LEAK_AUDIT_KEY", canary::AUDIT_KEY)
        .env("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", canary::AWS_SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", canary::AWS_SESSION_TOKEN)
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// The config file: secrets inline, from the environment and from files.
fn config(dir: &Path, port: u16, redis_url: &str, moto: &Moto) -> std::path::PathBuf {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let redis_url_file = write("redis-url", &format!("{redis_url}\n"));
    let gi_file = write("gi-secret", &format!("{}\n", canary::GI_SECRET));
    let oncall_file = write("oncall-token", canary::ONCALL_TOKEN_NEXT);
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[redis]
url = {{ file = "{redis_url_file}" }}
prefix = "bgleak"
timeout = "2s"

[aws]
region = "us-east-1"
endpoint_url = "{moto}"
role_path = "/breakglass/"

[audit]
key = {{ env = "BG_LEAK_AUDIT_KEY" }}
previous_keys = ["{audit_previous}"]
seal_interval = "20ms"

[sources.pagerduty]
secrets = ["{pd}", {{ env = "BG_LEAK_PD_SECRET_OLD" }}]
[sources.grafana_incident]
secrets = [{{ file = "{gi_file}" }}]
[sources.opsgenie]
tokens = [{{ env = "BG_LEAK_OPSGENIE_TOKEN" }}]
[sources.grafana_oncall]
tokens = ["{oncall}", {{ file = "{oncall_file}" }}]

[[auth.tokens]]
sha256 = "{alice}"
subject = "alice@example.com"
[[auth.tokens]]
sha256 = "{bob}"
subject = "bob@example.com"
[[auth.tokens]]
sha256 = "{admin}"
subject = "ops"
admin = true

[auth.oidc]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
jwks_file = "{jwks}"

{RESPONDERS_TOML}
[[roles]]
name = "prod-db-read"
max_duration = "1h"
policy = '{READ_POLICY}'
"#,
        moto = moto.url(),
        audit_previous = canary::AUDIT_KEY_PREVIOUS,
        pd = canary::PD_SECRET,
        oncall = canary::ONCALL_TOKEN,
        alice = sha256_hex(canary::ALICE_TOKEN),
        bob = sha256_hex(canary::BOB_TOKEN),
        admin = sha256_hex(canary::ADMIN_TOKEN),
        jwks = oidc_fixture("jwks.json"),
    );
    for secret in [
        canary::PD_SECRET_OLD,
        canary::GI_SECRET,
        canary::OPSGENIE_TOKEN,
        canary::ONCALL_TOKEN_NEXT,
        canary::AUDIT_KEY,
        canary::REDIS_PASSWORD,
    ] {
        assert!(!toml.contains(secret), "the config file should not hold it");
    }
    PathBuf::from(write("breakglass.toml", &toml))
}

/// The running service and everything the test sent it and got back.
struct Service {
    child: Child,
    base: String,
    http: reqwest::Client,
    /// Every answer, as (what, body).
    answers: Vec<(String, String)>,
    /// The hex of every signature sent with a webhook.
    signatures: Vec<(String, String)>,
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&mut self, what: &str, req: reqwest::RequestBuilder) -> (StatusCode, String) {
        let res = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        self.answers.push((what.to_owned(), text.clone()));
        (status, text)
    }

    /// A webhook with the given headers; the answer must have `expected` status.
    async fn webhook(
        &mut self,
        what: &str,
        source: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
        expected: StatusCode,
    ) -> String {
        let mut req = self
            .http
            .post(self.url(&format!("/webhooks/{source}")))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let (status, text) = self.send(what, req).await;
        assert_eq!(status, expected, "{what}: {text}");
        text
    }

    /// A PagerDuty webhook signed with `secret`.
    async fn pagerduty(&mut self, what: &str, body: Vec<u8>, secret: &str, expected: StatusCode) {
        let signature = pd_signature(secret, &body);
        self.signatures.push((
            format!("PagerDuty signature of {what}"),
            signature.trim_start_matches("v1=").to_owned(),
        ));
        self.webhook(
            what,
            "pagerduty",
            body,
            &[("x-pagerduty-signature", signature)],
            expected,
        )
        .await;
    }

    /// A Grafana Incident webhook signed with `secret`, `age` seconds ago.
    async fn grafana_incident(
        &mut self,
        what: &str,
        body: Vec<u8>,
        secret: &str,
        age: i64,
        expected: StatusCode,
    ) {
        let signature = gi_signature(secret, &body, now() - age);
        let hex = signature.rsplit("v1=").next().unwrap().to_owned();
        self.signatures
            .push((format!("Grafana Incident signature of {what}"), hex));
        self.webhook(
            what,
            "grafana-incident",
            body,
            &[("gi-signature", signature)],
            expected,
        )
        .await;
    }

    /// An API call with a bearer token; the answer must have `expected` status.
    async fn api(
        &mut self,
        what: &str,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Value {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (status, text) = self.send(what, req).await;
        assert_eq!(status, expected, "{what}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn elevate(&mut self, what: &str, token: &str, incident: &str) -> String {
        let body = json!({"incident": incident, "role": "prod-db-read", "duration": "30m",
                          "reason": canary::REASON});
        let answer = self
            .api(
                what,
                Method::POST,
                "/v1/elevations",
                token,
                Some(body),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(answer["status"], "active", "{what}: {answer}");
        answer["id"].as_str().unwrap().to_owned()
    }

    /// A GET whose body is an export (not JSON API data).
    async fn export(&mut self, what: &str, path: &str, token: &str) -> String {
        let req = self.http.get(self.url(path)).bearer_auth(token);
        let (status, text) = self.send(what, req).await;
        assert_eq!(status, StatusCode::OK, "{what}: {text}");
        // Kept as an export, not an API answer.
        self.answers.pop();
        text
    }
}

impl Drop for Service {
    /// A failed test leaves no service behind (after a clean stop this does nothing).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run the breakglass binary (a CLI command) with the test's environment and `extra` settings;
/// returns its exit code and its stdout and stderr.
async fn cli(args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_breakglass"));
    environment(command.as_std_mut());
    command.args(args).envs(extra.iter().copied());
    let out = command.output().await.expect("run breakglass");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every byte string inside a Redis reply, one per line.
fn flatten(value: &redis::Value, out: &mut String) {
    match value {
        redis::Value::BulkString(b) => {
            out.push_str(&String::from_utf8_lossy(b));
            out.push('\n');
        }
        redis::Value::SimpleString(s) => {
            out.push_str(s);
            out.push('\n');
        }
        redis::Value::VerbatimString { text, .. } => {
            out.push_str(text);
            out.push('\n');
        }
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|v| flatten(v, out));
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        other => {
            out.push_str(&format!("{other:?}"));
            out.push('\n');
        }
    }
}

/// Every key in Redis with everything it holds, as one place per key.
fn redis_contents(url: &str) -> Vec<Place> {
    let mut conn = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connect to redis as the ACL user");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(
        keys.iter().any(|k| k.starts_with("bgleak:")),
        "nothing under the prefix: {keys:?}"
    );
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
            let mut read = match kind.as_str() {
                "string" => redis::cmd("GET"),
                "hash" => redis::cmd("HGETALL"),
                "set" => redis::cmd("SMEMBERS"),
                "zset" => {
                    let mut c = redis::cmd("ZRANGE");
                    c.arg(&key).arg(0).arg(-1).arg("WITHSCORES");
                    c
                }
                "list" => {
                    let mut c = redis::cmd("LRANGE");
                    c.arg(&key).arg(0).arg(-1);
                    c
                }
                "stream" => {
                    let mut c = redis::cmd("XRANGE");
                    c.arg(&key).arg("-").arg("+");
                    c
                }
                other => panic!("key {key} of unexpected type {other}"),
            };
            if matches!(kind.as_str(), "string" | "hash" | "set") {
                read.arg(&key);
            }
            let value: redis::Value = read.query(&mut conn).unwrap();
            let mut text = format!("{key}\n");
            flatten(&value, &mut text);
            Place {
                name: format!("Redis key {key} ({kind})"),
                kind: Kind::Redis,
                text,
            }
        })
        .collect()
}

/// `text` around `at`, on one line, for a failure message (never a whole log).
fn context(text: &str, at: usize, len: usize) -> String {
    let mut start = at.saturating_sub(60);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + len + 60).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].replace(['\n', '\r'], " ")
}

fn needles() -> Vec<Needle> {
    use canary::*;
    let mut out = Vec::new();
    let mut add = |name: &str, text: String, scope: Scope| {
        out.push(Needle {
            name: name.to_owned(),
            text,
            scope,
        })
    };
    let secrets = [
        ("PagerDuty secret (inline)", PD_SECRET),
        ("PagerDuty secret (env)", PD_SECRET_OLD),
        ("Grafana Incident secret (file)", GI_SECRET),
        ("Opsgenie token (env)", OPSGENIE_TOKEN),
        ("Grafana OnCall token (inline)", ONCALL_TOKEN),
        ("Grafana OnCall token (file)", ONCALL_TOKEN_NEXT),
        ("alice's API token", ALICE_TOKEN),
        ("bob's API token", BOB_TOKEN),
        ("the admin API token", ADMIN_TOKEN),
        ("audit key (env)", AUDIT_KEY),
        ("previous audit key (inline)", AUDIT_KEY_PREVIOUS),
        ("Redis password (file)", REDIS_PASSWORD),
        ("AWS secret access key (env)", AWS_SECRET_ACCESS_KEY),
        ("AWS session token (env)", AWS_SESSION_TOKEN),
        ("claim inside alice's JWT", JWT_CLAIM),
        ("wrong PagerDuty secret", WRONG_PD_SECRET),
        ("canary PagerDuty signature header", PD_SIGNATURE_HEADER),
        ("wrong Opsgenie bearer token", WRONG_OPSGENIE_TOKEN),
        ("wrong Basic auth password", WRONG_BASIC_PASSWORD),
        ("wrong OnCall token", WRONG_ONCALL_TOKEN),
        ("wrong API token", WRONG_API_TOKEN),
        ("wrong Redis password", WRONG_REDIS_PASSWORD),
        ("secret under the wrong key", MISPLACED_SECRET),
        ("claim inside a forged JWT", FORGED_JWT_CLAIM),
        ("claim inside an expired JWT", EXPIRED_JWT_CLAIM),
        ("X-Api-Key header", API_KEY_HEADER),
        ("cookie", COOKIE),
    ];
    for (name, value) in secrets {
        add(name, value.to_owned(), Scope::Secret);
        add(
            &format!("{name}, base64"),
            STANDARD_NO_PAD.encode(value),
            Scope::Secret,
        );
        add(
            &format!("{name}, base64url"),
            URL_SAFE_NO_PAD.encode(value),
            Scope::Secret,
        );
        add(&format!("{name}, hex"), hex::encode(value), Scope::Secret);
    }
    for (name, value) in [
        ("Opsgenie token", OPSGENIE_TOKEN),
        ("OnCall token", ONCALL_TOKEN),
        ("OnCall token (file)", ONCALL_TOKEN_NEXT),
        ("alice's API token", ALICE_TOKEN),
        ("bob's API token", BOB_TOKEN),
        ("the admin API token", ADMIN_TOKEN),
        ("wrong Opsgenie token", WRONG_OPSGENIE_TOKEN),
        ("wrong OnCall token", WRONG_ONCALL_TOKEN),
        ("wrong API token", WRONG_API_TOKEN),
    ] {
        add(
            &format!("SHA-256 of {name}"),
            sha256_hex(value),
            Scope::Digest,
        );
    }
    add(
        "Basic auth of the Opsgenie token",
        basic("opsgenie", OPSGENIE_TOKEN),
        Scope::Secret,
    );
    add(
        "Basic auth of the OnCall token",
        basic("oncall", ONCALL_TOKEN),
        Scope::Secret,
    );
    add(
        "Basic auth of the wrong password",
        basic("opsgenie", WRONG_BASIC_PASSWORD),
        Scope::Secret,
    );
    add(
        "Redis AUTH of the ACL user, base64",
        basic(REDIS_USER, REDIS_PASSWORD),
        Scope::Secret,
    );
    for (name, value) in [
        ("title of a refused webhook", REFUSED_BODY),
        ("malformed Opsgenie body", MALFORMED_OPSGENIE_BODY),
        ("malformed PagerDuty body", MALFORMED_PD_BODY),
    ] {
        add(name, value.to_owned(), Scope::Secret);
    }
    add(
        "malformed elevation body",
        MALFORMED_ELEVATION_BODY.to_owned(),
        Scope::Body,
    );
    add("incident title (data)", TITLE.to_owned(), Scope::Data);
    add("elevation reason (data)", REASON.to_owned(), Scope::Data);
    out
}

/// Every JWT the test sent, whole and by segment.
fn jwt_needles(name: &str, token: &str) -> Vec<Needle> {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "{name} is a JWT");
    vec![
        Needle {
            name: format!("{name}, whole"),
            text: token.to_owned(),
            scope: Scope::Secret,
        },
        Needle {
            name: format!("{name}, payload segment"),
            text: segments[1].to_owned(),
            scope: Scope::Secret,
        },
        Needle {
            name: format!("{name}, signature segment"),
            text: segments[2].to_owned(),
            scope: Scope::Secret,
        },
    ]
}

#[tokio::test]
async fn no_secret_or_token_reaches_logs_metrics_exports_or_redis() {
    let started = Instant::now();

    // Redis with an ACL user whose password is a canary; the default user is then off, so
    // nothing gets in without it.
    let redis = RedisServer::start();
    {
        let mut conn = redis.conn();
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg(REDIS_USER)
            .arg("on")
            .arg(format!(">{}", canary::REDIS_PASSWORD))
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .query::<()>(&mut conn)
            .unwrap();
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg("off")
            .query::<()>(&mut conn)
            .unwrap();
    }
    let redis_url = format!(
        "redis://{REDIS_USER}:{}@127.0.0.1:{}",
        canary::REDIS_PASSWORD,
        redis.port
    );
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config_path = config(dir.path(), port, &redis_url, &moto);
    let config_arg = config_path.display().to_string();

    // The service, every crate at TRACE, its whole stdout and stderr captured in files (a pipe
    // nobody reads would fill up and stall it).
    let stdout_path = dir.path().join("stdout.log");
    let stderr_path = dir.path().join("stderr.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_breakglass"));
    environment(&mut command);
    let child = command
        .args(["serve", "--config", &config_arg])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("start breakglass serve");
    let mut s = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        answers: Vec::new(),
        signatures: Vec::new(),
    };
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            panic!("breakglass exited at start ({status}): {tail:?}");
        }
        let ready = s.http.get(s.url("/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(Instant::now() < deadline, "not ready within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let alice_jwt = jwt("rsa-1.pem", canary::JWT_CLAIM, now() + 300);
    let forged_jwt = jwt("attacker.pem", canary::FORGED_JWT_CLAIM, now() + 300);
    let expired_jwt = jwt("rsa-1.pem", canary::EXPIRED_JWT_CLAIM, now() - 120);
    let accepted = StatusCode::ACCEPTED;

    // PagerDuty: alice's incident, its title a canary, signed with the inline secret; bob
    // added, signed with the secret from the environment.
    let triggered = edit(
        &fixture("pagerduty/incident.triggered.json"),
        "Test Incident 3",
        canary::TITLE,
    );
    s.pagerduty("PagerDuty trigger", triggered, canary::PD_SECRET, accepted)
        .await;
    let added = edit(
        &fixture("pagerduty/incident.responder.added.json"),
        "Q3B15VLMF3ASBD",
        "PFQZPSY",
    );
    let added = edit(&added, "PXRUEF2", "PI9DT01");
    s.pagerduty(
        "PagerDuty responder added",
        added,
        canary::PD_SECRET_OLD,
        accepted,
    )
    .await;

    // Opsgenie: the token from the environment as a bearer token, as Basic auth, and in
    // X-Breakglass-Token. Alice acknowledges; bob is made owner.
    let created = edit(
        &fixture("opsgenie/Create.json"),
        "7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295",
        OPSGENIE_ALERT,
    );
    let created = edit(&created, "1593475564295", "1420452191104");
    let created = edit(&created, "1593475564636000000", "1420452191104000000");
    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    let basic_auth = |u: &str, p: &str| ("authorization", format!("Basic {}", basic(u, p)));
    let custom = |t: &str| ("x-breakglass-token", t.to_owned());
    s.webhook(
        "Opsgenie create",
        "opsgenie",
        created,
        &[bearer(canary::OPSGENIE_TOKEN)],
        accepted,
    )
    .await;
    let acknowledged = edit(
        &fixture("opsgenie/Acknowledge.json"),
        "fili@ifountain.com",
        "kenaz@puppet.com",
    );
    s.webhook(
        "Opsgenie acknowledge",
        "opsgenie",
        acknowledged,
        &[basic_auth("opsgenie", canary::OPSGENIE_TOKEN)],
        accepted,
    )
    .await;
    s.webhook(
        "Opsgenie assign ownership",
        "opsgenie",
        fixture("opsgenie/AssignOwnership.json"),
        &[custom(canary::OPSGENIE_TOKEN)],
        accepted,
    )
    .await;

    // Grafana OnCall: alice is notified, then acknowledges; the inline token, then the one
    // from a file.
    s.webhook(
        "OnCall alert group created",
        "grafana-oncall",
        fixture("grafana-oncall/alert_group_created.RECONSTRUCTED.json"),
        &[custom(canary::ONCALL_TOKEN)],
        accepted,
    )
    .await;
    s.webhook(
        "OnCall acknowledge",
        "grafana-oncall",
        fixture("grafana-oncall/acknowledge.RECONSTRUCTED.json"),
        &[bearer(canary::ONCALL_TOKEN_NEXT)],
        accepted,
    )
    .await;

    // Grafana Incident: alice is the commander; the secret from a file.
    s.grafana_incident(
        "Grafana Incident created",
        fixture("grafana-incident/grafana.incident.created.RECONSTRUCTED.json"),
        canary::GI_SECRET,
        0,
        accepted,
    )
    .await;

    // Elevations: with alice's JWT and with her static token, one on each tool's incident.
    let pd_binding = s
        .elevate("elevation on PagerDuty (JWT)", &alice_jwt, PD_INCIDENT)
        .await;
    let og_binding = s
        .elevate(
            "elevation on Opsgenie (token)",
            canary::ALICE_TOKEN,
            OG_INCIDENT,
        )
        .await;
    let oncall_binding = s
        .elevate(
            "elevation on OnCall (token)",
            canary::ALICE_TOKEN,
            ONCALL_INCIDENT,
        )
        .await;
    let gi_binding = s
        .elevate(
            "elevation on Grafana Incident (JWT)",
            &alice_jwt,
            GI_INCIDENT,
        )
        .await;
    assert_eq!(moto.roles_under("/breakglass/").await.len(), 4);

    // Reads: the binding as its holder (JWT), the incident as bob (with headers that carry
    // canaries but are no credentials), every incident as the admin.
    let read = s
        .api(
            "GET binding (JWT)",
            Method::GET,
            &format!("/v1/elevations/{pd_binding}"),
            &alice_jwt,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(read["status"], "active", "{read}");
    let req = s
        .http
        .get(s.url(&format!("/v1/incidents/{PD_INCIDENT}")))
        .bearer_auth(canary::BOB_TOKEN)
        .header("x-api-key", canary::API_KEY_HEADER)
        .header("cookie", format!("session={}", canary::COOKIE));
    let (status, text) = s.send("GET incident as bob", req).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let incident: Value = serde_json::from_str(&text).unwrap();
    // The title is data: stored and shown (checked below only against logs and metrics).
    assert_eq!(incident["title"], canary::TITLE, "{incident}");
    for id in [PD_INCIDENT, OG_INCIDENT, ONCALL_INCIDENT, GI_INCIDENT] {
        s.api(
            &format!("GET {id} as admin"),
            Method::GET,
            &format!("/v1/incidents/{id}"),
            canary::ADMIN_TOKEN,
            None,
            StatusCode::OK,
        )
        .await;
    }
    s.api(
        "list incidents (JWT)",
        Method::GET,
        "/v1/incidents?status=all",
        &alice_jwt,
        None,
        StatusCode::OK,
    )
    .await;
    let (code, out, err) = cli(
        &["status", &pd_binding],
        &[
            ("BREAKGLASS_URL", &s.base),
            ("BREAKGLASS_TOKEN", &alice_jwt),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "breakglass status: {err}");
    let mut cli_output = vec![("breakglass status (JWT)".to_owned(), out + &err)];

    // Refused requests, each carrying a canary where it does not belong.
    let unauthorized = StatusCode::UNAUTHORIZED;
    let refused_body = edit(
        &fixture("pagerduty/incident.triggered.json"),
        "Test Incident 3",
        canary::REFUSED_BODY,
    );
    let refused_body = edit(&refused_body, "PFQZPSY", "PREFUSED");
    s.pagerduty(
        "PagerDuty signed with a wrong secret",
        refused_body.clone(),
        canary::WRONG_PD_SECRET,
        unauthorized,
    )
    .await;
    s.webhook(
        "PagerDuty with a canary as signature",
        "pagerduty",
        refused_body.clone(),
        &[(
            "x-pagerduty-signature",
            format!("v1={}", canary::PD_SIGNATURE_HEADER),
        )],
        unauthorized,
    )
    .await;
    s.grafana_incident(
        "Grafana Incident signed an hour ago",
        fixture("grafana-incident/grafana.incident.updated.role.json"),
        canary::GI_SECRET,
        3600,
        unauthorized,
    )
    .await;
    for (what, header) in [
        (
            "Opsgenie with a wrong bearer token",
            bearer(canary::WRONG_OPSGENIE_TOKEN),
        ),
        (
            "Opsgenie with a wrong Basic password",
            basic_auth("opsgenie", canary::WRONG_BASIC_PASSWORD),
        ),
        (
            "Opsgenie with a token as a bare Authorization",
            ("authorization", canary::WRONG_OPSGENIE_TOKEN.to_owned()),
        ),
    ] {
        s.webhook(
            what,
            "opsgenie",
            fixture("opsgenie/Close.json"),
            &[header],
            unauthorized,
        )
        .await;
    }
    s.webhook(
        "OnCall with a wrong token",
        "grafana-oncall",
        fixture("grafana-oncall/resolve.docs-sample.json"),
        &[custom(canary::WRONG_ONCALL_TOKEN)],
        unauthorized,
    )
    .await;
    for (what, token) in [
        ("API with a wrong token", canary::WRONG_API_TOKEN.to_owned()),
        ("API with a forged JWT", forged_jwt.clone()),
        ("API with an expired JWT", expired_jwt.clone()),
    ] {
        s.api(
            what,
            Method::GET,
            &format!("/v1/incidents/{PD_INCIDENT}"),
            &token,
            None,
            unauthorized,
        )
        .await;
    }
    // Authenticated, but not JSON: the 400 names no value, and the body is not logged.
    s.webhook(
        "Opsgenie malformed body",
        "opsgenie",
        format!(
            "{{\"action\": \"Create\", \"alert\": \"{}",
            canary::MALFORMED_OPSGENIE_BODY
        )
        .into_bytes(),
        &[bearer(canary::OPSGENIE_TOKEN)],
        StatusCode::BAD_REQUEST,
    )
    .await;
    s.pagerduty(
        "PagerDuty malformed body",
        format!("{{\"event\": {{\"id\": {}", canary::MALFORMED_PD_BODY).into_bytes(),
        canary::PD_SECRET,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let req = s
        .http
        .post(s.url("/v1/elevations"))
        .bearer_auth(canary::ALICE_TOKEN)
        .header("content-type", "application/json")
        .body(format!("not json: {}", canary::MALFORMED_ELEVATION_BODY));
    let (status, text) = s.send("elevation with a body that is not JSON", req).await;
    assert!(status.is_client_error(), "{status}: {text}");

    // Revocation: alice gives one back; every incident resolves through its tool.
    s.api(
        "revoke by holder",
        Method::DELETE,
        &format!("/v1/elevations/{og_binding}"),
        canary::ALICE_TOKEN,
        None,
        StatusCode::ACCEPTED,
    )
    .await;
    // Dated now: after the responder.added event, which is from 2026. The title stays the
    // canary.
    let resolved = edit(
        &resolve_body("PFQZPSY"),
        "2021-06-04T14:16:53.816Z",
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    let resolved = edit(
        &resolved,
        "\"Test Incident\"",
        &format!("\"{}\"", canary::TITLE),
    );
    s.pagerduty("PagerDuty resolve", resolved, canary::PD_SECRET, accepted)
        .await;
    s.grafana_incident(
        "Grafana Incident resolved",
        fixture("grafana-incident/grafana.incident.updated.status-resolved.RECONSTRUCTED.json"),
        canary::GI_SECRET,
        0,
        accepted,
    )
    .await;
    s.webhook(
        "OnCall resolve",
        "grafana-oncall",
        fixture("grafana-oncall/resolve.docs-sample.json"),
        &[basic_auth("oncall", canary::ONCALL_TOKEN)],
        accepted,
    )
    .await;
    s.webhook(
        "Opsgenie close",
        "opsgenie",
        fixture("opsgenie/Close.json"),
        &[bearer(canary::OPSGENIE_TOKEN)],
        accepted,
    )
    .await;
    let deadline = Instant::now() + WAIT;
    for id in [&pd_binding, &og_binding, &oncall_binding, &gi_binding] {
        loop {
            let read = s
                .api(
                    "GET binding as admin",
                    Method::GET,
                    &format!("/v1/elevations/{id}"),
                    canary::ADMIN_TOKEN,
                    None,
                    StatusCode::OK,
                )
                .await;
            if read["status"] == "revoked" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not revoked: {} {} {}",
                read["incident"],
                read["status"],
                read["end_reason"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let roles = moto.roles_under("/breakglass/").await;
    assert!(roles.is_empty(), "roles left in IAM: {roles:?}");

    // The exports: every event sealed first.
    let deadline = Instant::now() + WAIT;
    let audit = loop {
        let text = s
            .export("GET /v1/audit", "/v1/audit", canary::ADMIN_TOKEN)
            .await;
        let sealed = text
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok_and(|e| e["hash"].is_string()));
        if sealed && !text.is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "audit events still unsealed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The reason is data: it is in the audit trail.
    assert!(audit.contains(canary::REASON), "the reason is audited");
    let mut exports = vec![("GET /v1/audit (NDJSON)".to_owned(), audit)];
    for format in ["json", "csv", "md", "html"] {
        let what = format!("review of {PD_INCIDENT} as {format} (JWT)");
        let path = format!("/v1/incidents/{PD_INCIDENT}/review?format={format}");
        let text = s.export(&what, &path, &alice_jwt).await;
        exports.push((what, text));
    }
    // The title is data: the reviews show it.
    assert!(
        exports
            .iter()
            .skip(1)
            .all(|(_, text)| text.contains(canary::TITLE)),
        "the reviews show the title"
    );
    for id in [OG_INCIDENT, ONCALL_INCIDENT, GI_INCIDENT] {
        let what = format!("review of {id} as md (admin)");
        let path = format!("/v1/incidents/{id}/review?format=md");
        let text = s.export(&what, &path, canary::ADMIN_TOKEN).await;
        exports.push((what, text));
    }
    let export_file = dir.path().join("audit.ndjson");
    let export_arg = export_file.display().to_string();
    let (code, out, err) = cli(
        &["audit", "export", "-o", &export_arg],
        &[
            ("BREAKGLASS_URL", &s.base),
            ("BREAKGLASS_TOKEN", canary::ADMIN_TOKEN),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "breakglass audit export: {err}");
    cli_output.push(("breakglass audit export".to_owned(), out + &err));
    let exported = std::fs::read_to_string(&export_file).unwrap();
    assert!(exported.lines().count() > 20, "the CLI exported the trail");
    exports.push(("breakglass audit export (file)".to_owned(), exported));
    let (code, out, err) = cli(
        &["review", PD_INCIDENT, "--format", "html"],
        &[
            ("BREAKGLASS_URL", &s.base),
            ("BREAKGLASS_TOKEN", canary::ALICE_TOKEN),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "breakglass review: {err}");
    exports.push(("breakglass review --format html".to_owned(), out));
    cli_output.push(("breakglass review (stderr)".to_owned(), err));

    let req = s.http.get(s.url("/metrics"));
    let (status, metrics) = s.send("GET /metrics", req).await;
    assert_eq!(status, StatusCode::OK);
    s.answers.pop();
    assert!(
        metrics.contains("outcome=\"unauthenticated\""),
        "the refusals are counted"
    );

    // A clean stop flushes every queued log line.
    let term = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no clean stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // The operator commands that read Redis and the config's secrets themselves.
    let (code, out, err) = cli(&["audit", "verify", "--config", &config_arg], &[]).await;
    assert_eq!(code, Some(0), "breakglass audit verify: {out}{err}");
    cli_output.push(("breakglass audit verify".to_owned(), out + &err));
    let (code, out, err) = cli(&["check-config", "--config", &config_arg], &[]).await;
    assert_eq!(code, Some(0), "breakglass check-config: {err}");
    cli_output.push(("breakglass check-config".to_owned(), out + &err));
    // The same commands on configs they cannot use: the errors name keys, never values.
    let config_text = std::fs::read_to_string(&config_path).unwrap();
    let wrong_url = redis_url.replace(canary::REDIS_PASSWORD, canary::WRONG_REDIS_PASSWORD);
    std::fs::write(dir.path().join("redis-url-wrong"), &wrong_url).unwrap();
    let wrong_redis = dir.path().join("wrong-redis.toml");
    std::fs::write(
        &wrong_redis,
        config_text.replace("/redis-url\"", "/redis-url-wrong\""),
    )
    .unwrap();
    let wrong_arg = wrong_redis.display().to_string();
    let (code, out, err) = cli(&["audit", "verify", "--config", &wrong_arg], &[]).await;
    assert_eq!(
        code,
        Some(2),
        "audit verify with a wrong password: {out}{err}"
    );
    cli_output.push(("audit verify, wrong Redis password".to_owned(), out + &err));
    let misplaced = dir.path().join("misplaced.toml");
    let tokens = "tokens = [{ env = \"BG_LEAK_OPSGENIE_TOKEN\" }]";
    assert!(config_text.contains(tokens));
    std::fs::write(
        &misplaced,
        config_text.replace(
            tokens,
            &format!("{tokens}\nsecrets = [\"{}\"]", canary::MISPLACED_SECRET),
        ),
    )
    .unwrap();
    let misplaced_arg = misplaced.display().to_string();
    let (code, out, err) = cli(&["check-config", "--config", &misplaced_arg], &[]).await;
    assert_eq!(
        code,
        Some(1),
        "check-config of a misplaced secret: {out}{err}"
    );
    assert!(err.contains("sources.opsgenie"), "the key is named: {err}");
    cli_output.push((
        "check-config, secret under the wrong key".to_owned(),
        out + &err,
    ));

    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    // The logs are real and as verbose as they get.
    for expected in [
        "\"level\":\"TRACE\"",
        "request_id",
        "webhook applied",
        "webhook refused",
        "OIDC token refused",
        "\"message\":\"elevation\"",
    ] {
        assert!(stderr.contains(expected), "no {expected:?} in the logs");
    }

    let mut places = vec![
        Place {
            name: "service stdout".into(),
            kind: Kind::Log,
            text: stdout,
        },
        Place {
            name: "service stderr (log)".into(),
            kind: Kind::Log,
            text: stderr,
        },
        Place {
            name: "GET /metrics".into(),
            kind: Kind::Metrics,
            text: metrics,
        },
    ];
    for (name, text) in cli_output {
        places.push(Place {
            name: format!("CLI: {name}"),
            kind: Kind::Log,
            text,
        });
    }
    for (name, text) in exports {
        places.push(Place {
            name,
            kind: Kind::Export,
            text,
        });
    }
    for (name, text) in std::mem::take(&mut s.answers) {
        places.push(Place {
            name: format!("answer to {name}"),
            kind: Kind::Api,
            text,
        });
    }
    places.extend(redis_contents(&redis_url));

    let mut needles = needles();
    needles.extend(jwt_needles("alice's JWT", &alice_jwt));
    needles.extend(jwt_needles("the forged JWT", &forged_jwt));
    needles.extend(jwt_needles("the expired JWT", &expired_jwt));
    for (name, hex) in &s.signatures {
        needles.push(Needle {
            name: name.clone(),
            text: hex.clone(),
            scope: Scope::Secret,
        });
    }

    // Every hit: which canary, in which form, where, with a little context.
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for place in &places {
        for needle in needles.iter().filter(|n| n.scope.covers(place.kind)) {
            if let Some(at) = place.text.find(&needle.text) {
                found.insert(
                    format!("{} in {}", needle.name, place.name),
                    context(&place.text, at, needle.text.len()),
                );
            }
        }
        // Logs and metrics hold no canary of any kind, not even data.
        if matches!(place.kind, Kind::Log | Kind::Metrics) {
            if let Some(at) = place.text.find("CANARY") {
                found
                    .entry(format!("a CANARY- string in {}", place.name))
                    .or_insert_with(|| context(&place.text, at, 6));
            }
        }
    }
    let report: Vec<String> = found
        .iter()
        .map(|(what, around)| format!("  {what}: ...{around}..."))
        .collect();
    assert!(
        found.is_empty(),
        "{} leak(s) found:\n{}",
        found.len(),
        report.join("\n")
    );
    eprintln!(
        "secret_leak: {} needles over {} places, none found; {:.1?}",
        needles.len(),
        places.len(),
        started.elapsed()
    );
}
