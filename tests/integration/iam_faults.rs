//! Revocation through a faulty IAM: a small fault-injecting HTTP proxy, started by the test on a
//! free port in front of moto, answers a share of the calls with what a struggling IAM answers
//! (throttling, 500s, an answer that never comes in time) and forwards the rest. The service's
//! `[aws] endpoint_url` is the proxy. The faults start only once every grant is in, so what is
//! tested is the revocation path: every binding must still end `revoked` and every role go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, StatusCode as HttpStatus};
use axum::response::{IntoResponse, Response};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::elevation_support::*;
use crate::harness::*;
use crate::moto::{percent_decode, Moto};

const BINDINGS: usize = 40;
/// Roles whose first whole DeleteRole call (every SDK attempt) fails, whatever the dice say.
const DOOMED_ROLES: usize = 3;
/// The SDK's attempts per call (its standard retry mode).
const SDK_ATTEMPTS: u32 = 3;

const THROTTLING: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
    <Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>";
const SERVICE_FAILURE: &str = "<ErrorResponse><Error><Type>Receiver</Type>\
    <Code>ServiceFailure</Code><Message>Internal failure</Message></Error>\
    <RequestId>x</RequestId></ErrorResponse>";

/// Headers that belong to one hop, not to the message.
const HOP: [HeaderName; 4] = [
    header::HOST,
    header::CONTENT_LENGTH,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
];

/// The fault-injecting proxy's state, shared with the test.
#[derive(Clone)]
struct Faults {
    upstream: String,
    http: reqwest::Client,
    /// Faults only once this is on.
    on: Arc<AtomicBool>,
    /// Percent of calls answered with a fault while on.
    percent: u32,
    /// Calls left that may stall past the SDK's attempt timeout.
    stalls_left: Arc<AtomicU32>,
    stall: Duration,
    /// DeleteRole calls failed so far, per role, for the roles chosen to fail the SDK's every
    /// attempt (so that the service's own retry runs for sure, not just by chance).
    doomed: Arc<Mutex<HashMap<String, u32>>>,
    /// Faults injected, by kind, and calls forwarded.
    counts: Arc<Mutex<HashMap<&'static str, u32>>>,
}

impl Faults {
    fn count(&self, kind: &'static str) {
        *self.counts.lock().unwrap().entry(kind).or_default() += 1;
    }

    fn counted(&self, kind: &str) -> u32 {
        self.counts.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    /// Whether this call is a DeleteRole of one of the first `DOOMED_ROLES` roles to be deleted,
    /// within its first `SDK_ATTEMPTS` tries: each of those roles then fails a whole SDK call.
    fn doom(&self, body: &[u8]) -> bool {
        let params: HashMap<String, String> = String::from_utf8_lossy(body)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let (Some("DeleteRole"), Some(role)) = (
            params.get("Action").map(String::as_str),
            params.get("RoleName"),
        ) else {
            return false;
        };
        let mut doomed = self.doomed.lock().unwrap();
        if !doomed.contains_key(role) && doomed.len() >= DOOMED_ROLES {
            return false;
        }
        let failed = doomed.entry(role.clone()).or_default();
        *failed += 1;
        *failed <= SDK_ATTEMPTS
    }

    /// Send the call on to moto and its answer back.
    async fn forward(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        headers: &axum::http::HeaderMap,
        body: Bytes,
    ) -> Response {
        let mut req = self
            .http
            .request(method, format!("{}{path_and_query}", self.upstream))
            .body(body);
        for (name, value) in headers {
            if !HOP.contains(name) {
                req = req.header(name, value);
            }
        }
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => return (HttpStatus::BAD_GATEWAY, e.to_string()).into_response(),
        };
        let mut out = Response::builder().status(res.status());
        for (name, value) in res.headers() {
            if !HOP.contains(name) {
                out = out.header(name, value);
            }
        }
        let body = res.bytes().await.unwrap_or_default();
        out.body(Body::from(body)).expect("a response")
    }
}

fn aws_error(status: HttpStatus, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

async fn proxy(State(f): State<Faults>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/".to_string(), ToString::to_string);
    if f.on.load(Ordering::SeqCst) && f.doom(&body) {
        f.count("throttled");
        return aws_error(HttpStatus::BAD_REQUEST, THROTTLING);
    }
    if !f.on.load(Ordering::SeqCst) || fastrand::u32(0..100) >= f.percent {
        f.count("forwarded");
        return f
            .forward(parts.method, &path_and_query, &parts.headers, body)
            .await;
    }
    let take_stall = || {
        f.stalls_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    match fastrand::u32(0..10) {
        0..=3 => {
            f.count("throttled");
            aws_error(HttpStatus::BAD_REQUEST, THROTTLING)
        }
        4..=7 => {
            f.count("failed");
            aws_error(HttpStatus::INTERNAL_SERVER_ERROR, SERVICE_FAILURE)
        }
        _ if take_stall() => {
            // Half the stalls lose the answer of a call that took effect, half lose the call.
            f.count("stalled");
            let answer = if fastrand::bool() {
                f.forward(parts.method, &path_and_query, &parts.headers, body)
                    .await
            } else {
                aws_error(HttpStatus::INTERNAL_SERVER_ERROR, SERVICE_FAILURE)
            };
            tokio::time::sleep(f.stall).await;
            answer
        }
        _ => {
            f.count("throttled");
            aws_error(HttpStatus::BAD_REQUEST, THROTTLING)
        }
    }
}

/// Start the proxy in front of `moto` on a free port; returns its URL and its state.
async fn start_proxy(moto: &Moto, percent: u32, stalls: u32) -> (String, Faults) {
    let faults = Faults {
        upstream: moto.url(),
        http: reqwest::Client::new(),
        on: Arc::new(AtomicBool::new(false)),
        percent,
        stalls_left: Arc::new(AtomicU32::new(stalls)),
        // Past the service's 10 s attempt timeout (src/grants/iam.rs).
        stall: Duration::from_secs(11),
        doomed: Arc::default(),
        counts: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port for the proxy");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(proxy)
        .with_state(faults.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, faults)
}

/// The invariant: no role under the path belongs to a resolved incident or is past its expiry
/// (read straight from moto, not through the proxy).
async fn assert_invariant(e: &Elev, resolved: &[&str]) {
    for (role, incident) in e.moto.roles_left_by_incident().await {
        assert!(
            !resolved.contains(&incident.as_str()),
            "role {role} belongs to resolved incident {incident}"
        );
    }
}

#[tokio::test]
async fn iam_throttling_5xx_and_timeouts_still_revoke_every_binding() {
    let moto = Moto::start();
    let (proxy_url, faults) = start_proxy(&moto, 25, 2).await;
    let roles: String = (0..BINDINGS)
        .map(|i| {
            format!(
                "[[roles]]\nname = \"fault-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n"
            )
        })
        .collect();
    let tail = catalogue(
        &moto,
        "max_active_per_subject = 1000\nrequests_per_minute = 100000",
        &roles,
    )
    .replace(&moto.url(), &proxy_url);
    assert!(tail.contains(&proxy_url));
    let app = TestApp::start_with(Extra {
        tail: &tail,
        ..Extra::default()
    })
    .await;
    let e = Elev { app, moto };
    e.open_incident().await;

    // Every grant goes through a healthy IAM.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BINDINGS {
        let request = e
            .app
            .http
            .post(e.app.url("/v1/elevations"))
            .bearer_auth(ALICE_TOKEN)
            .json(&json!({"incident": INCIDENT, "role": format!("fault-{i}"), "duration": "1h", "reason": "faults"}));
        tasks.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(e.moto.roles_under("/breakglass/").await.len(), BINDINGS);

    // Then IAM starts failing, and the incident resolves.
    faults.on.store(true, Ordering::SeqCst);
    let resolved = Instant::now();
    e.resolve().await;

    // Every role goes, within a bound that leaves room for stalls and several retries.
    let bound = Duration::from_secs(35);
    loop {
        let left = e.moto.roles_under("/breakglass/").await;
        if left.is_empty() {
            break;
        }
        assert!(
            resolved.elapsed() < bound,
            "{} roles still in IAM {bound:?} after the resolve; faults {:?}",
            left.len(),
            faults.counts.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone = resolved.elapsed();

    // And every binding ends revoked (its record written just after its role is gone).
    let bindings = loop {
        let view = e.app.incident(INCIDENT).await;
        let bindings: Vec<Value> = view["bindings"].as_array().unwrap().clone();
        if bindings.iter().all(|b| b["status"] == "revoked") {
            break bindings;
        }
        assert!(
            resolved.elapsed() < bound + Duration::from_secs(5),
            "bindings not all revoked: {bindings:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(bindings.len(), BINDINGS);
    for b in &bindings {
        assert_eq!(b["end_reason"], "incident_resolved", "{b}");
        let (status, read) = e
            .call(
                Method::GET,
                &format!("/v1/elevations/{}", b["id"].as_str().unwrap()),
                ALICE_TOKEN,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["status"], "revoked", "{read}");
    }

    // The faults were hit, and the service's own retries (beyond the SDK's) ran.
    let retried = bindings
        .iter()
        .filter(|b| b["attempts"].as_u64().unwrap_or(0) > 1)
        .count();
    let retries = e.app.metric("breakglass_revocation_retries_total").await;
    let with_errors = bindings
        .iter()
        .filter(|b| b["last_error"].is_string())
        .count();
    eprintln!(
        "iam_faults: roles gone {gone:?} after the resolve; faults {:?}; \
         {retried} bindings retried, {retries} service-level retries, {with_errors} with last_error",
        faults.counts.lock().unwrap()
    );
    for kind in ["throttled", "failed", "stalled"] {
        assert!(faults.counted(kind) > 0, "no call was {kind}");
    }
    assert!(
        retried >= DOOMED_ROLES && retries >= DOOMED_ROLES as u64,
        "no revocation was retried by the service ({retried} bindings, {retries} retries)"
    );
    assert!(
        retries >= retried as u64,
        "{retries} retries counted, but {retried} bindings show more than one attempt"
    );

    assert_invariant(&e, &[INCIDENT]).await;
}
