//! The authorization matrix: every API endpoint x every kind of caller x every incident state,
//! each row asserting the exact status (and error code), and that a refusal changed nothing:
//! not one Redis key of the app's prefix, not one IAM role, and no audit entry beyond the
//! refusal records the service deliberately keeps. Reads and no-op answers (an admin's `202`
//! for a binding already revoked) are held to the same rule; only the few granted writes are
//! not, and the test waits for their background work before the next row. Mismatches are
//! collected over every row and reported together.
//!
//! One app, one Redis, one moto, both static API tokens and OIDC (a `jwks_file`):
//! - alice (`PJ0LVEB`) is the responder of each incident X, one per state: open, acknowledged,
//!   resolved; plus an incident id breakglass never heard of;
//! - dave (`PDAVE01`) is a second responder of each X, so that a peer request has someone to
//!   approve it;
//! - bob (`PI9DT01`) is the responder of another incident, Y, and of no X;
//! - `ops` (static token) and carol (OIDC, listed in `admins`) are admins.
//!
//! Everything is set up through real signed PagerDuty webhooks and real API calls.
//!
//! Refusals that the service records on purpose, and that the snapshot comparison therefore
//! allows (and nothing else):
//! - `POST /v1/elevations` by an authenticated caller appends `elevation.denied` to the audit
//!   stream of the incident's shard (and RPUSHes its id to `incident:<id>:events`, creating that
//!   list even for an incident id nobody has heard of);
//! - `POST /v1/elevations/{id}/approve` by an authenticated caller appends
//!   `elevation.approval_refused`.
//!
//! Unauthenticated refusals (401) append nothing at all. The audit family of keys (`*:audit`,
//! `*:audit:*`, `*:incident:*:events`) is compared by entry, not by value, because the sealer
//! seals new entries in the background; the reconciler's lock is left out as the harness does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::elevation_support::{catalogue, new_trigger, resolve_body};
use crate::harness::*;
use crate::moto::Moto;

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "breakglass";
const PREFIX: &str = "bgtest";

/// Incident X in each state (alice and dave respond), and Y (bob responds).
const X_OPEN: &str = "PXOPEN1";
const X_ACK: &str = "PXACK01";
const X_RESOLVED: &str = "PXRES01";
const Y_OTHER: &str = "PYBOB01";
const UNKNOWN_INCIDENT: &str = "pagerduty:PNOSUCH1";
/// Well formed (shard digit, then 15 of the id alphabet), never issued.
const UNKNOWN_BINDING: &str = "0zzzzzzzzzzzzzzz";
const DAVE_PD: &str = "PDAVE01";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// No `Authorization` header at all.
    NoAuth,
    /// A random bearer value: no static token has its digest.
    RandomBearer,
    /// Three base64url segments that are no JWT.
    MalformedJwt,
    /// `alg: none`, claiming to be the OIDC admin carol.
    AlgNoneJwt,
    /// RS256 under the trusted kid `rsa-1`, signed by a key nobody trusts, claiming carol (admin).
    ForgedJwt,
    /// Properly signed by the IdP key, for alice, but `exp` two minutes ago (leeway is 30 s).
    ExpiredJwt,
    /// alice, a responder of this incident (OIDC JWT).
    Responder,
    /// bob, responder of another incident (static API token).
    OtherToken,
    /// bob, responder of another incident (OIDC JWT).
    OtherJwt,
    /// `ops`, an admin (static API token).
    AdminToken,
    /// carol, an admin through `[auth.oidc] admins` (OIDC JWT).
    AdminJwt,
}

const CALLERS: [Caller; 11] = [
    Caller::NoAuth,
    Caller::RandomBearer,
    Caller::MalformedJwt,
    Caller::AlgNoneJwt,
    Caller::ForgedJwt,
    Caller::ExpiredJwt,
    Caller::Responder,
    Caller::OtherToken,
    Caller::OtherJwt,
    Caller::AdminToken,
    Caller::AdminJwt,
];

impl Caller {
    fn authenticated(self) -> bool {
        matches!(
            self,
            Caller::Responder
                | Caller::OtherToken
                | Caller::OtherJwt
                | Caller::AdminToken
                | Caller::AdminJwt
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Acknowledged,
    Resolved,
    Unknown,
    /// For endpoints about no incident (the audit export).
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    /// `POST /v1/elevations` for the incident, a role alice does not hold yet.
    CreateElevation,
    /// `GET /v1/elevations/{id}` of alice's `auto` binding on the incident.
    GetElevation,
    /// `DELETE /v1/elevations/{id}` of alice's `auto` binding on the incident.
    RevokeElevation,
    /// `POST /v1/elevations/{id}/approve` of dave's pending `peer` request on the incident.
    ApprovePeer,
    /// `POST /v1/elevations/{id}/approve` of alice's own pending `peer` request.
    ApproveOwn,
    /// `GET /v1/incidents?status=all`: 200 for everyone authenticated; the row says whether the
    /// incident must be in the caller's list.
    ListIncidents,
    /// `GET /v1/incidents/{id}`.
    GetIncident,
    /// `GET /v1/incidents/{id}/review`.
    GetReview,
    /// `GET /v1/audit`.
    Audit,
}

impl Endpoint {
    fn method(self) -> Method {
        match self {
            Endpoint::CreateElevation | Endpoint::ApprovePeer | Endpoint::ApproveOwn => {
                Method::POST
            }
            Endpoint::RevokeElevation => Method::DELETE,
            _ => Method::GET,
        }
    }

    /// Audit entry types a refusal by an authenticated caller records on purpose.
    fn refusal_audit(self) -> &'static [&'static str] {
        match self {
            Endpoint::CreateElevation => &["elevation.denied"],
            Endpoint::ApprovePeer | Endpoint::ApproveOwn => &["elevation.approval_refused"],
            _ => &[],
        }
    }
}

/// What one class of caller gets: the status, and the error code for a refusal.
type Outcome = (u16, Option<&'static str>);

const OK: Outcome = (200, None);
const CREATED: Outcome = (201, None);
const ACCEPTED: Outcome = (202, None);
const FORBIDDEN: Outcome = (403, Some("forbidden"));
const NOT_ON_CALL: Outcome = (403, Some("not_on_call"));
const NOT_OPEN: Outcome = (403, Some("incident_not_open"));
const NO_INCIDENT: Outcome = (404, Some("incident_not_found"));
const NOT_FOUND: Outcome = (404, Some("not_found"));
const UNAUTHENTICATED: Outcome = (401, Some("unauthenticated"));

/// The expectations, in short: per endpoint and state, what alice (responder of this incident),
/// bob (responder of another incident; token and JWT) and the admins (token and JWT) get. Every
/// caller without valid credentials (none, random bearer, malformed, `alg: none`, forged,
/// expired) gets `401 unauthenticated` on every row. Found by reading src/http/*.rs,
/// src/elevation/ and the error tables of the book's HTTP API page (docs/api.md).
#[rustfmt::skip]
const TABLE: &[(Endpoint, State, Outcome, Outcome, Outcome)] = &[
    //  endpoint                    state                 responder     other        admin
    (Endpoint::CreateElevation, State::Open,         CREATED,     NOT_ON_CALL, NOT_ON_CALL),
    (Endpoint::CreateElevation, State::Acknowledged, CREATED,     NOT_ON_CALL, NOT_ON_CALL),
    (Endpoint::CreateElevation, State::Resolved,     NOT_OPEN,    NOT_OPEN,    NOT_OPEN),
    (Endpoint::CreateElevation, State::Unknown,      NO_INCIDENT, NO_INCIDENT, NO_INCIDENT),
    (Endpoint::GetElevation,    State::Open,         OK,          FORBIDDEN,   OK),
    (Endpoint::GetElevation,    State::Acknowledged, OK,          FORBIDDEN,   OK),
    (Endpoint::GetElevation,    State::Resolved,     OK,          FORBIDDEN,   OK),
    (Endpoint::GetElevation,    State::Unknown,      NOT_FOUND,   NOT_FOUND,   NOT_FOUND),
    (Endpoint::ApprovePeer,     State::Open,         OK,          FORBIDDEN,   FORBIDDEN),
    (Endpoint::ApprovePeer,     State::Acknowledged, OK,          FORBIDDEN,   FORBIDDEN),
    // Resolved: the resolve took alice off the incident (she is a former responder now), so
    // she is no longer "another current responder"; the request itself was ended by the resolve.
    (Endpoint::ApprovePeer,     State::Resolved,     FORBIDDEN,   FORBIDDEN,   FORBIDDEN),
    (Endpoint::ApprovePeer,     State::Unknown,      NOT_FOUND,   NOT_FOUND,   NOT_FOUND),
    (Endpoint::ApproveOwn,      State::Open,         FORBIDDEN,   FORBIDDEN,   FORBIDDEN),
    (Endpoint::ApproveOwn,      State::Acknowledged, FORBIDDEN,   FORBIDDEN,   FORBIDDEN),
    (Endpoint::ApproveOwn,      State::Resolved,     FORBIDDEN,   FORBIDDEN,   FORBIDDEN),
    (Endpoint::GetIncident,     State::Open,         OK,          FORBIDDEN,   OK),
    (Endpoint::GetIncident,     State::Acknowledged, OK,          FORBIDDEN,   OK),
    (Endpoint::GetIncident,     State::Resolved,     OK,          FORBIDDEN,   OK),
    (Endpoint::GetIncident,     State::Unknown,      NO_INCIDENT, NO_INCIDENT, NO_INCIDENT),
    (Endpoint::GetReview,       State::Open,         OK,          FORBIDDEN,   OK),
    (Endpoint::GetReview,       State::Acknowledged, OK,          FORBIDDEN,   OK),
    (Endpoint::GetReview,       State::Resolved,     OK,          FORBIDDEN,   OK),
    (Endpoint::GetReview,       State::Unknown,      NO_INCIDENT, NO_INCIDENT, NO_INCIDENT),
    (Endpoint::ListIncidents,   State::Open,         OK,          OK,          OK),
    (Endpoint::ListIncidents,   State::Acknowledged, OK,          OK,          OK),
    (Endpoint::ListIncidents,   State::Resolved,     OK,          OK,          OK),
    (Endpoint::ListIncidents,   State::Unknown,      OK,          OK,          OK),
    (Endpoint::Audit,           State::Any,          FORBIDDEN,   FORBIDDEN,   OK),
    // Last, as it ends bindings: the holder first (a real revocation), then the admins (already
    // revoked: returned unchanged, still 202, nothing written); bob is refused whatever the
    // status. Resolved: the resolve revoked it already, so every 202 there changes nothing.
    (Endpoint::RevokeElevation, State::Open,         ACCEPTED,    FORBIDDEN,   ACCEPTED),
    (Endpoint::RevokeElevation, State::Acknowledged, ACCEPTED,    FORBIDDEN,   ACCEPTED),
    (Endpoint::RevokeElevation, State::Resolved,     ACCEPTED,    FORBIDDEN,   ACCEPTED),
    (Endpoint::RevokeElevation, State::Unknown,      NOT_FOUND,   NOT_FOUND,   NOT_FOUND),
];

/// One row of the matrix.
#[derive(Debug, Clone, Copy)]
struct Row {
    endpoint: Endpoint,
    caller: Caller,
    state: State,
    status: u16,
    code: Option<&'static str>,
    /// For the list: whether this state's incident must be in the caller's list.
    listed: Option<bool>,
    /// Whether the row, when it succeeds, changes state: alice's new elevation, her approval of
    /// dave's request, her revocation of a live binding. Every other row must change nothing,
    /// 2xx included (a read; an admin's revocation of a binding already ended).
    writes: bool,
}

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for &(endpoint, state, responder, other, admin) in TABLE {
        for caller in CALLERS {
            let (status, code) = match caller {
                Caller::Responder => responder,
                Caller::OtherToken | Caller::OtherJwt => other,
                Caller::AdminToken | Caller::AdminJwt => admin,
                _ => UNAUTHENTICATED,
            };
            // Alice and the admins see every X; bob none; nobody an unknown incident.
            let listed =
                (endpoint == Endpoint::ListIncidents && caller.authenticated()).then(|| {
                    state != State::Unknown
                        && matches!(
                            caller,
                            Caller::Responder | Caller::AdminToken | Caller::AdminJwt
                        )
                });
            let writes = caller == Caller::Responder
                && matches!(state, State::Open | State::Acknowledged)
                && matches!(
                    endpoint,
                    Endpoint::CreateElevation | Endpoint::ApprovePeer | Endpoint::RevokeElevation
                );
            rows.push(Row {
                endpoint,
                caller,
                state,
                status,
                code,
                listed,
                writes,
            });
        }
    }
    rows
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(email: &str, exp: i64) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": format!("idp|{email}"), "email": email,
        "email_verified": true, "iat": now() - 600, "exp": exp,
    })
}

fn rs256(key_file: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&fixture(&format!("oidc/{key_file}"))).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// The `Authorization` header value of every caller.
struct Credentials(BTreeMap<&'static str, Option<String>>);

impl Credentials {
    fn new() -> Self {
        let valid = now() + 600;
        let random = hex::encode(Sha256::digest(
            format!("{:?}", std::time::SystemTime::now()).as_bytes(),
        ));
        let alg_none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims("carol@example.com", valid).to_string())
        );
        let bearer = |t: String| Some(format!("Bearer {t}"));
        let mut map = BTreeMap::new();
        for caller in CALLERS {
            let value = match caller {
                Caller::NoAuth => None,
                Caller::RandomBearer => bearer(random.clone()),
                Caller::MalformedJwt => bearer("eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl".into()),
                Caller::AlgNoneJwt => bearer(alg_none.clone()),
                Caller::ForgedJwt => {
                    bearer(rs256("attacker.pem", &claims("carol@example.com", valid)))
                }
                Caller::ExpiredJwt => bearer(rs256(
                    "rsa-1.pem",
                    &claims("alice@example.com", now() - 120),
                )),
                Caller::Responder => {
                    bearer(rs256("rsa-1.pem", &claims("alice@example.com", valid)))
                }
                Caller::OtherToken => bearer(BOB_TOKEN.into()),
                Caller::OtherJwt => bearer(rs256("rsa-1.pem", &claims("bob@example.com", valid))),
                Caller::AdminToken => bearer(ADMIN_TOKEN.into()),
                Caller::AdminJwt => bearer(rs256("rsa-1.pem", &claims("carol@example.com", valid))),
            };
            map.insert(caller_name(caller), value);
        }
        Credentials(map)
    }

    fn of(&self, caller: Caller) -> Option<&str> {
        self.0[caller_name(caller)].as_deref()
    }
}

fn caller_name(caller: Caller) -> &'static str {
    match caller {
        Caller::NoAuth => "no token",
        Caller::RandomBearer => "random bearer",
        Caller::MalformedJwt => "malformed JWT",
        Caller::AlgNoneJwt => "alg:none JWT (admin)",
        Caller::ForgedJwt => "forged JWT (admin)",
        Caller::ExpiredJwt => "expired JWT (responder)",
        Caller::Responder => "responder of this incident (JWT)",
        Caller::OtherToken => "responder of another incident (token)",
        Caller::OtherJwt => "responder of another incident (JWT)",
        Caller::AdminToken => "admin (token)",
        Caller::AdminJwt => "admin (JWT)",
    }
}

/// The incident and bindings a row of a given state is about.
#[derive(Clone, Debug)]
struct Target {
    incident: String,
    /// alice's active `auto` binding (revoked by the resolve in the resolved state).
    active: String,
    /// alice's own pending `peer` request.
    own_pending: String,
    /// dave's pending `peer` request.
    peer_pending: String,
}

impl Target {
    fn unknown() -> Self {
        Target {
            incident: UNKNOWN_INCIDENT.into(),
            active: UNKNOWN_BINDING.into(),
            own_pending: UNKNOWN_BINDING.into(),
            peer_pending: UNKNOWN_BINDING.into(),
        }
    }
}

fn path(endpoint: Endpoint, t: &Target) -> String {
    match endpoint {
        Endpoint::CreateElevation => "/v1/elevations".into(),
        Endpoint::GetElevation | Endpoint::RevokeElevation => {
            format!("/v1/elevations/{}", t.active)
        }
        Endpoint::ApprovePeer => format!("/v1/elevations/{}/approve", t.peer_pending),
        Endpoint::ApproveOwn => format!("/v1/elevations/{}/approve", t.own_pending),
        Endpoint::ListIncidents => "/v1/incidents?status=all&limit=1000".into(),
        Endpoint::GetIncident => format!("/v1/incidents/{}", t.incident),
        Endpoint::GetReview => format!("/v1/incidents/{}/review", t.incident),
        Endpoint::Audit => "/v1/audit".into(),
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.expect("api request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// What a request could change: every key of the prefix, the audit trail, the roles in IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    /// `DUMP` of every key outside the audit family.
    values: BTreeMap<String, Vec<u8>>,
    /// Names of the audit family's keys (their contents are compared by entry instead).
    audit_keys: BTreeSet<String>,
    /// Each audit stream's newest entry id.
    audit_tips: BTreeMap<String, String>,
    /// Role names under the role path in IAM.
    roles: Vec<String>,
}

/// Keys written by the audit append (and the sealer, in the background): the streams, their
/// sequence, seal and anchor keys, and each incident's list of entry ids.
fn audit_family(key: &str) -> bool {
    key.ends_with(":audit")
        || key.contains(":audit:")
        || (key.contains(":incident:") && key.ends_with(":events"))
}

/// Written only by the sealer, in the background, after any append (`audit:sealer` is its
/// short-lived lock, so it also comes and goes on its own).
fn sealer_key(key: &str) -> bool {
    key.ends_with(":audit:seal") || key.ends_with(":audit:sealer")
}

struct Observer<'a> {
    app: &'a TestApp,
    moto: &'a Moto,
    conn: Box<dyn redis::ConnectionLike>,
}

impl Observer<'_> {
    async fn snapshot(&mut self) -> Snapshot {
        let mut values = BTreeMap::new();
        let mut audit_keys = BTreeSet::new();
        let mut audit_tips = BTreeMap::new();
        for key in self.app.redis.keys(PREFIX) {
            if audit_family(&key) {
                if key.ends_with(":audit") {
                    let tip: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
                        .arg(&key)
                        .arg("+")
                        .arg("-")
                        .arg("COUNT")
                        .arg(1)
                        .query(&mut *self.conn)
                        .expect("XREVRANGE");
                    let id = tip.ids.first().map(|e| e.id.clone()).unwrap_or_default();
                    audit_tips.insert(key.clone(), id);
                }
                audit_keys.insert(key);
                continue;
            }
            // A key that expired between KEYS and DUMP reads as nil: absent.
            let dump: Option<Vec<u8>> = redis::cmd("DUMP")
                .arg(&key)
                .query(&mut *self.conn)
                .expect("DUMP");
            if let Some(dump) = dump {
                values.insert(key, dump);
            }
        }
        let mut roles = self.moto.roles_under("/breakglass/").await;
        roles.sort();
        Snapshot {
            values,
            audit_keys,
            audit_tips,
            roles,
        }
    }

    /// Types of the audit entries appended between two snapshots.
    fn new_audit_entries(&mut self, before: &Snapshot, after: &Snapshot) -> Vec<String> {
        let mut types = Vec::new();
        for (stream, tip) in &after.audit_tips {
            let old = before.audit_tips.get(stream);
            if old == Some(tip) {
                continue;
            }
            let start = old.map_or("-".to_owned(), |id| format!("({id}"));
            let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(stream)
                .arg(start)
                .arg("+")
                .query(&mut *self.conn)
                .expect("XRANGE");
            for e in entries.ids {
                types.push(e.get::<String>("type").unwrap_or_default());
            }
        }
        types
    }

    /// Bindings whose status is `granting` or `revoking`: work still going on in the background.
    fn busy_bindings(&mut self) -> Vec<String> {
        self.app
            .redis
            .keys(PREFIX)
            .into_iter()
            .filter(|k| k.contains(":binding:"))
            .filter(|k| {
                let status: Option<String> = redis::cmd("HGET")
                    .arg(k)
                    .arg("status")
                    .query(&mut *self.conn)
                    .expect("HGET status");
                matches!(status.as_deref(), Some("granting" | "revoking"))
            })
            .collect()
    }

    /// Wait until no binding is being granted or revoked and two snapshots a moment apart agree;
    /// returns the settled snapshot.
    async fn settle(&mut self) -> Snapshot {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let busy = self.busy_bindings();
            if busy.is_empty() {
                let first = self.snapshot().await;
                tokio::time::sleep(Duration::from_millis(60)).await;
                let second = self.snapshot().await;
                if first.values == second.values && first.roles == second.roles {
                    return second;
                }
            }
            assert!(
                Instant::now() < deadline,
                "state did not settle within 10 s; busy bindings: {busy:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What changed from `before` to `after`, outside what `allowed_audit` permits; empty if
    /// nothing did. Also returns the audit entries appended.
    fn changes(
        &mut self,
        before: &Snapshot,
        after: &Snapshot,
        allowed_audit: &[&str],
    ) -> (Vec<String>, Vec<String>) {
        let mut out = Vec::new();
        for (k, v) in &after.values {
            match before.values.get(k) {
                None => out.push(format!("key added: {k}")),
                Some(old) if old != v => out.push(format!("key changed: {k}")),
                Some(_) => {}
            }
        }
        for k in before.values.keys() {
            if !after.values.contains_key(k) {
                out.push(format!("key removed: {k}"));
            }
        }
        if before.roles != after.roles {
            out.push(format!(
                "IAM roles changed: {:?} -> {:?}",
                before.roles, after.roles
            ));
        }
        let appended = self.new_audit_entries(before, after);
        for t in &appended {
            if !allowed_audit.contains(&t.as_str()) {
                out.push(format!("audit entry appended: {t}"));
            }
        }
        // New audit-family keys (a shard's first stream, an incident's entry list) come only
        // with an appended entry; the sealer's own keys come whenever it catches up.
        let added: Vec<&String> = after
            .audit_keys
            .difference(&before.audit_keys)
            .filter(|k| !sealer_key(k))
            .collect();
        if !added.is_empty() && appended.is_empty() {
            out.push(format!("audit keys added with no entry: {added:?}"));
        }
        for k in before.audit_keys.difference(&after.audit_keys) {
            if !sealer_key(k) {
                out.push(format!("audit key removed: {k}"));
            }
        }
        (out, appended)
    }
}

struct Setup {
    targets: BTreeMap<&'static str, Target>,
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Open => "open",
        State::Acknowledged => "acknowledged",
        State::Resolved => "resolved",
        State::Unknown => "unknown incident",
        State::Any => "-",
    }
}

impl Setup {
    fn target(&self, state: State) -> Target {
        self.targets
            .get(state_name(state))
            .cloned()
            .unwrap_or_else(Target::unknown)
    }
}

/// A PagerDuty webhook that must be applied.
async fn applied(app: &TestApp, body: &[u8]) {
    let (status, answer) = app.pagerduty(body).await;
    assert_eq!(status.as_u16(), 202, "webhook not applied: {answer}");
}

/// Dave joins `native` as a responder, dated between its trigger and its acknowledgement.
fn dave_joins(native: &str, event: &str) -> Vec<u8> {
    let body = edit(
        &fixture("pagerduty/incident.responder.added.json"),
        "Q3B15VLMF3ASBD",
        native,
    );
    let body = edit(&body, "PXRUEF2", DAVE_PD);
    let body = edit(&body, "01GI0KX4BFZXPEDNCS4USCAH22", event);
    edit(
        &body,
        "2026-04-01T02:20:14.737Z",
        "2021-06-04T13:40:00.000Z",
    )
}

async fn elevate(app: &TestApp, auth: &str, incident: &str, role: &str) -> (u16, Value) {
    send(
        app,
        Method::POST,
        "/v1/elevations",
        Some(auth),
        Some(&json!({"incident": incident, "role": role, "duration": "30m", "reason": "authz matrix set-up"})),
    )
    .await
}

/// Open X in every state with alice and dave on it, each with alice's active binding and two
/// pending peer requests (alice's, dave's); Y with bob on it. Then acknowledge one X and resolve
/// another.
async fn set_up(app: &TestApp, creds: &Credentials) -> Setup {
    let alice = creds.of(Caller::Responder).unwrap().to_owned();
    let dave = format!(
        "Bearer {}",
        rs256("rsa-1.pem", &claims("dave@example.com", now() + 600))
    );
    let mut targets = BTreeMap::new();
    for (i, (state, native)) in [
        (State::Open, X_OPEN),
        (State::Acknowledged, X_ACK),
        (State::Resolved, X_RESOLVED),
    ]
    .into_iter()
    .enumerate()
    {
        applied(
            app,
            &new_trigger(native, &format!("01AUTHZTRIGGER000000000X{i}")),
        )
        .await;
        applied(
            app,
            &dave_joins(native, &format!("01AUTHZDAVE0000000000000X{i}")),
        )
        .await;
        let incident = format!("pagerduty:{native}");
        let (status, active) = elevate(app, &alice, &incident, "prod-db-read").await;
        assert_eq!(status, 201, "{active}");
        let (status, own) = elevate(app, &alice, &incident, "prod-admin").await;
        assert_eq!(status, 202, "{own}");
        let (status, peer) = elevate(app, &dave, &incident, "prod-admin").await;
        assert_eq!(status, 202, "{peer}");
        let id = |b: &Value| b["id"].as_str().expect("binding id").to_owned();
        targets.insert(
            state_name(state),
            Target {
                incident,
                active: id(&active),
                own_pending: id(&own),
                peer_pending: id(&peer),
            },
        );
    }
    let y = edit(
        &new_trigger(Y_OTHER, "01AUTHZTRIGGER000000000Y0"),
        "PJ0LVEB",
        "PI9DT01",
    );
    applied(app, &y).await;
    let ack = edit(
        &fixture("pagerduty/incident.acknowledged.json"),
        "PQ1K5C8",
        X_ACK,
    );
    applied(app, &ack).await;
    applied(app, &resolve_body(X_RESOLVED)).await;
    Setup { targets }
}

/// The `[[responders]]` entry of dave, the `[auth.oidc]` table, and the role catalogue.
fn config_tail(moto: &Moto) -> String {
    let jwks = format!(
        "{}/tests/fixtures/oidc/jwks.json",
        env!("CARGO_MANIFEST_DIR")
    );
    format!(
        r#"
[[responders]]
email = "dave@example.com"
aws_principal = "arn:aws:iam::123456789012:user/dave"
pagerduty = "{DAVE_PD}"

[auth.oidc]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
jwks_file = "{jwks}"
admins = ["carol@example.com"]
{catalogue}"#,
        catalogue = catalogue(
            moto,
            "max_active_per_subject = 50",
            r#"
[[roles]]
name = "matrix-extra"
max_duration = "1h"
policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":"*"}]}'
"#
        )
    )
}

/// A refused webhook: what it tries, the source, its headers, the expected status.
type WebhookCase = (&'static str, &'static str, Vec<(&'static str, String)>, u16);

/// Webhooks that fail authentication: `401` with one body for every reason, and nothing
/// changed, audit trail included. Each body, if it were accepted, would change an incident.
async fn webhook_refusals(app: &TestApp, obs: &mut Observer<'_>, mismatches: &mut Vec<String>) {
    let pd = resolve_body(X_OPEN);
    let gi = fixture("grafana-incident/grafana.incident.created.RECONSTRUCTED.json");
    let og = fixture("opsgenie/Create.json");
    let oncall = fixture("grafana-oncall/alert_group_created.RECONSTRUCTED.json");
    let t = now();
    let basic = |password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("user:{password}"))
        )
    };
    let other_body = fixture("pagerduty/incident.triggered.json");
    let sig = |name: &'static str, value: String| vec![(name, value)];
    let pd_sig = "x-pagerduty-signature";
    let gi_sig = "gi-signature";
    let token = "x-breakglass-token";
    let auth = "authorization";
    // (what, source, headers, expected status); the body is the source's state-changing one.
    #[rustfmt::skip]
    let cases: Vec<WebhookCase> = vec![
        ("pagerduty: unsigned", "pagerduty", vec![], 401),
        ("pagerduty: wrong secret", "pagerduty", sig(pd_sig, pd_signature("not-the-secret", &pd)), 401),
        ("pagerduty: signature of another body", "pagerduty", sig(pd_sig, pd_signature(PD_SECRET, &other_body)), 401),
        ("pagerduty: malformed signature", "pagerduty", sig(pd_sig, "v1=zz".into()), 401),
        ("pagerduty: an API token instead", "pagerduty", sig(auth, format!("Bearer {ADMIN_TOKEN}")), 401),
        ("grafana-incident: unsigned", "grafana-incident", vec![], 401),
        ("grafana-incident: wrong secret", "grafana-incident", sig(gi_sig, gi_signature("not-the-secret", &gi, t)), 401),
        ("grafana-incident: stale timestamp", "grafana-incident", sig(gi_sig, gi_signature(GI_SECRET, &gi, t - 3600)), 401),
        ("grafana-incident: malformed signature", "grafana-incident", sig(gi_sig, "t=x,v1=zz".into()), 401),
        ("opsgenie: no token", "opsgenie", vec![], 401),
        ("opsgenie: wrong bearer", "opsgenie", sig(auth, "Bearer not-the-token".into()), 401),
        ("opsgenie: wrong X-Breakglass-Token", "opsgenie", sig(token, "not-the-token".into()), 401),
        ("opsgenie: wrong Basic password", "opsgenie", sig(auth, basic("not-the-token")), 401),
        ("opsgenie: an admin API token", "opsgenie", sig(auth, format!("Bearer {ADMIN_TOKEN}")), 401),
        ("opsgenie: another source's token", "opsgenie", sig(token, ONCALL_TOKEN.into()), 401),
        ("grafana-oncall: no token", "grafana-oncall", vec![], 401),
        ("grafana-oncall: wrong token", "grafana-oncall", sig(token, "not-the-token".into()), 401),
        ("grafana-oncall: another source's token", "grafana-oncall", sig(auth, format!("Bearer {OPSGENIE_TOKEN}")), 401),
        ("no such source, signed", "nope", sig(pd_sig, pd_signature(PD_SECRET, &pd)), 404),
    ];
    let mut before = obs.snapshot().await;
    let mut bodies_401 = BTreeSet::new();
    for (what, source, headers, expected) in cases {
        let body = match source {
            "grafana-incident" => &gi,
            "opsgenie" => &og,
            "grafana-oncall" => &oncall,
            _ => &pd,
        };
        let (status, answer) = app.webhook(source, body, &headers).await;
        let status = status.as_u16();
        let code = answer["error"]["code"].as_str().unwrap_or_default();
        let expected_code = if expected == 401 {
            "unauthenticated"
        } else {
            "not_found"
        };
        if status != expected || code != expected_code {
            mismatches.push(format!(
                "webhook {what}: expected {expected} {expected_code}, got {status} {answer}"
            ));
        }
        if status == 401 {
            bodies_401.insert(answer.to_string());
        }
        let after = obs.snapshot().await;
        let (changes, _) = obs.changes(&before, &after, &[]);
        if !changes.is_empty() {
            mismatches.push(format!(
                "webhook {what}: refused ({status}) but changed {changes:?}"
            ));
        }
        before = after;
    }
    if bodies_401.len() > 1 {
        mismatches.push(format!(
            "webhook 401 bodies differ by reason: {bodies_401:?}"
        ));
    }
}

/// `/healthz`, `/readyz` and `/metrics` answer without any token, by design (the book's security
/// model, docs/security/index.md: unauthenticated, restrict them at the proxy): orchestrators' liveness
/// and readiness probes and Prometheus scrapers carry no bearer token, and none of the three
/// shows incident, binding or person data. A bogus token changes nothing either: these routes
/// do not read `Authorization`. Nothing changes in Redis or IAM.
async fn operations_endpoints(
    app: &TestApp,
    obs: &mut Observer<'_>,
    setup: &Setup,
    mismatches: &mut Vec<String>,
) {
    let mut before = obs.snapshot().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        for auth in [None, Some("Bearer not-a-token")] {
            let res = app.http.get(app.url(path));
            let res = match auth {
                Some(value) => res.header("authorization", value),
                None => res,
            };
            let res = res.send().await.expect("ops request");
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            if status != 200 {
                mismatches.push(format!("{path} ({auth:?}): expected 200, got {status}"));
            }
            if path == "/metrics" {
                let target = setup.target(State::Open);
                for secret in [
                    "@example.com",
                    X_OPEN,
                    target.active.as_str(),
                    PD_SECRET,
                    ADMIN_TOKEN,
                ] {
                    if text.contains(secret) {
                        mismatches.push(format!("/metrics shows {secret:?} to anyone"));
                    }
                }
            }
            let after = obs.snapshot().await;
            let (changes, _) = obs.changes(&before, &after, &[]);
            if !changes.is_empty() {
                mismatches.push(format!("{path}: changed {changes:?}"));
            }
            before = after;
        }
    }
}

/// Check a row's answer beyond its status: the error code of a refusal, the object a read
/// returns, and which incidents a list holds.
fn check_answer(row: &Row, target: &Target, answer: &Value) -> Option<String> {
    if let Some(code) = row.code {
        let got = answer["error"]["code"].as_str();
        return (got != Some(code)).then(|| format!("expected code {code}, got {answer}"));
    }
    match row.endpoint {
        Endpoint::GetElevation | Endpoint::RevokeElevation => (answer["id"] != target.active)
            .then(|| format!("expected binding {}, got {answer}", target.active)),
        Endpoint::ApprovePeer => (answer["id"] != target.peer_pending
            || answer["status"] != "active")
            .then(|| format!("expected {} active, got {answer}", target.peer_pending)),
        Endpoint::GetIncident => (answer["id"] != target.incident)
            .then(|| format!("expected incident {}, got {answer}", target.incident)),
        Endpoint::CreateElevation => (answer["incident"] != target.incident
            || answer["subject"] != "alice@example.com")
            .then(|| {
                format!(
                    "expected alice's binding on {}, got {answer}",
                    target.incident
                )
            }),
        Endpoint::ListIncidents => {
            let ids: Vec<&str> = answer["incidents"]
                .as_array()
                .map(|a| a.iter().filter_map(|i| i["id"].as_str()).collect())
                .unwrap_or_default();
            let listed = ids.contains(&target.incident.as_str());
            (Some(listed) != row.listed).then(|| {
                format!(
                    "expected {} {}listed, got {ids:?}",
                    target.incident,
                    if row.listed == Some(true) { "" } else { "not " }
                )
            })
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_by_every_caller_in_every_state() {
    let started = Instant::now();
    let moto = Moto::start();
    let tail = config_tail(&moto);
    let app = TestApp::start_with(Extra {
        tail: &tail,
        ..Extra::default()
    })
    .await;
    let creds = Credentials::new();
    let setup = set_up(&app, &creds).await;
    let mut obs = Observer {
        app: &app,
        moto: &moto,
        conn: Box::new(app.redis.conn()),
    };
    obs.settle().await;

    // The scene is as the rows assume it.
    for (state, status) in [
        (State::Open, "open"),
        (State::Acknowledged, "acknowledged"),
        (State::Resolved, "resolved"),
    ] {
        let t = setup.target(state);
        let incident = app.incident(&t.incident).await;
        assert_eq!(incident["status"], status, "{incident}");
        let (code, binding) = app
            .get(&format!("/v1/elevations/{}", t.active), ADMIN_TOKEN)
            .await;
        assert_eq!(code.as_u16(), 200, "{binding}");
        let expected = if state == State::Resolved {
            "revoked"
        } else {
            "active"
        };
        assert_eq!(binding["status"], expected, "{binding}");
    }
    let y = format!("pagerduty:{Y_OTHER}");
    assert_eq!(app.responders(&y).await, vec!["bob@example.com"]);
    assert_eq!(
        app.get(&format!("/v1/incidents/{y}"), BOB_TOKEN).await.0,
        200
    );
    assert_eq!(
        obs.snapshot().await.roles.len(),
        2,
        "alice's two live roles"
    );
    let set_up_at = started.elapsed();

    let mut mismatches = Vec::new();
    // Webhooks first, with the audit trail sealed, so that nothing at all may move.
    app.until_sealed().await;
    webhook_refusals(&app, &mut obs, &mut mismatches).await;
    operations_endpoints(&app, &mut obs, &setup, &mut mismatches).await;

    let rows = rows();
    let mut audited: BTreeMap<String, usize> = BTreeMap::new();
    let mut before = obs.snapshot().await;
    for row in &rows {
        let target = setup.target(row.state);
        let method = row.endpoint.method();
        let path = path(row.endpoint, &target);
        let body = (row.endpoint == Endpoint::CreateElevation).then(|| {
            json!({"incident": target.incident, "role": "matrix-extra", "duration": "10m",
                "reason": "authz matrix"})
        });
        let (status, answer) = send(
            &app,
            method.clone(),
            &path,
            creds.of(row.caller),
            body.as_ref(),
        )
        .await;
        let label = format!(
            "{method} {path} [{}] as {}",
            state_name(row.state),
            caller_name(row.caller)
        );
        if status != row.status {
            mismatches.push(format!(
                "{label}: expected {}{}, got {status} {answer}",
                row.status,
                row.code.map(|c| format!(" {c}")).unwrap_or_default()
            ));
        } else if let Some(why) = check_answer(row, &target, &answer) {
            mismatches.push(format!("{label}: {why}"));
        }
        // A granted write changes state, some of it in the background: wait for it, then go on
        // from there. Every other row (refusals, reads, no-op 202s) must change nothing.
        if row.writes && (200..300).contains(&status) {
            before = obs.settle().await;
            continue;
        }
        let allowed = if row.caller.authenticated() {
            row.endpoint.refusal_audit()
        } else {
            &[]
        };
        let after = obs.snapshot().await;
        let (changes, appended) = obs.changes(&before, &after, allowed);
        if !changes.is_empty() {
            mismatches.push(format!(
                "{label}: answered {status} but changed {changes:?}"
            ));
        }
        for t in appended {
            *audited
                .entry(format!("{method} {:?} -> {t}", row.endpoint))
                .or_default() += 1;
        }
        before = after;
    }

    // The successful writes did what they say: alice's binding revoked by herself (an admin's
    // later DELETE returned it unchanged), dave's requests approved by alice; IAM holds exactly
    // the roles of the active bindings.
    for state in [State::Open, State::Acknowledged] {
        let t = setup.target(state);
        let (_, active) = app
            .get(&format!("/v1/elevations/{}", t.active), ADMIN_TOKEN)
            .await;
        assert_eq!(
            (active["status"].as_str(), active["end_reason"].as_str()),
            (Some("revoked"), Some("revoked_by_holder")),
            "{active}"
        );
        let (_, peer) = app
            .get(&format!("/v1/elevations/{}", t.peer_pending), ADMIN_TOKEN)
            .await;
        assert_eq!(peer["approved_by"], "alice@example.com", "{peer}");
    }
    let mut live_roles = Vec::new();
    for t in [State::Open, State::Acknowledged, State::Resolved] {
        let incident = app.incident(&setup.target(t).incident).await;
        for b in incident["bindings"].as_array().unwrap() {
            if b["status"] == "active" {
                live_roles.push(b["role_name"].as_str().unwrap().to_owned());
            }
        }
    }
    live_roles.sort();
    assert_eq!(
        before.roles, live_roles,
        "IAM roles are those of the active bindings"
    );

    println!(
        "authz matrix: {} rows ({} endpoints x states, {} callers), set-up {:.1}s, total {:.1}s",
        rows.len(),
        TABLE.len(),
        CALLERS.len(),
        set_up_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("refusals recorded in the audit trail (allowed): {audited:#?}");
    assert!(
        mismatches.is_empty(),
        "{} of {} rows (and webhook/ops checks) failed:\n{}",
        mismatches.len(),
        rows.len(),
        mismatches.join("\n")
    );
}
