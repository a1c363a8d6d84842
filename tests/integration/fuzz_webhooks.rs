//! Property tests: arbitrary bytes and headers sent to any webhook endpoint never panic, never
//! answer 5xx, and never change state without valid authentication. Authenticated garbage gets
//! a 4xx or 2xx and, unless it was a valid event, changes nothing either.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::Router;
use breakglass::{AppState, Config};
use proptest::prelude::*;
use tower::ServiceExt;

use crate::harness::*;

struct Target {
    runtime: tokio::runtime::Runtime,
    router: Router,
    redis: Redis,
}

impl Target {
    fn new() -> Target {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let redis = Redis::start();
        let config = Config::from_toml_str(&config_toml(&redis.url(), &Extra::default())).unwrap();
        let state = runtime.block_on(AppState::build(config)).unwrap();
        let router = breakglass::http::router(state)
            .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        Target {
            runtime,
            router,
            redis,
        }
    }

    fn send(&self, path: &str, headers: &[(String, Vec<u8>)], body: Vec<u8>) -> StatusCode {
        let mut request = Request::post(path);
        for (name, value) in headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) else {
                continue;
            };
            request = request.header(name, value);
        }
        let request = request.body(Body::from(body)).unwrap();
        self.runtime
            .block_on(self.router.clone().oneshot(request))
            .unwrap()
            .status()
    }
}

fn source_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("pagerduty".to_string()),
        Just("grafana-incident".to_string()),
        Just("opsgenie".to_string()),
        Just("grafana-oncall".to_string()),
        "[a-z%.-]{0,20}",
    ]
    .prop_map(|s| format!("/webhooks/{s}"))
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "[0-9a-f]{0,70}".prop_map(|h| format!("v1={h}").into_bytes()),
        ("-?[0-9]{1,12}", "[0-9a-f]{64}").prop_map(|(t, h)| format!("t={t},v1={h}").into_bytes()),
        "[ -~]{0,40}".prop_map(|t| format!("Bearer {t}").into_bytes()),
        "[A-Za-z0-9+/=]{0,40}".prop_map(|t| format!("Basic {t}").into_bytes()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("x-pagerduty-signature".to_string()),
        Just("gi-signature".to_string()),
        Just("authorization".to_string()),
        Just("x-breakglass-token".to_string()),
        Just("x-webhook-id".to_string()),
        Just("content-length".to_string()),
        Just("x-forwarded-for".to_string()),
        "[a-z-]{1,20}",
    ];
    proptest::collection::vec((name, header_value()), 0..6)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        "\\PC{0,400}".prop_map(String::into_bytes),
        // Real payloads with a few bytes changed.
        (
            0usize..4,
            proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)
        )
            .prop_map(|(which, flips)| {
                let mut b = fixture(
                    [
                        "pagerduty/incident.triggered.json",
                        "opsgenie/Create.json",
                        "grafana-oncall/acknowledge.RECONSTRUCTED.json",
                        "grafana-incident/grafana.incident.updated.role.json",
                    ][which],
                );
                for (at, byte) in flips {
                    let len = b.len();
                    b[at % len] = byte;
                }
                b
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn unauthenticated_requests_never_panic_and_never_change_state(
        path in source_path(),
        headers in headers(),
        body in body(),
    ) {
        thread_local!(static TARGET: Target = Target::new());
        TARGET.with(|t| {
            let status = t.send(&path, &headers, body);
            prop_assert!(
                [StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND, StatusCode::PAYLOAD_TOO_LARGE, StatusCode::BAD_REQUEST]
                    .contains(&status),
                "unexpected {status} for {path}"
            );
            prop_assert!(t.redis.keys("bgtest").is_empty(), "state changed without authentication");
            Ok(())
        })?;
    }

    #[test]
    fn authenticated_garbage_is_answered_without_panics_or_5xx(body in body()) {
        thread_local!(static TARGET: Target = Target::new());
        TARGET.with(|t| {
            let signature = pd_signature(PD_SECRET, &body).into_bytes();
            let headers = vec![("x-pagerduty-signature".to_string(), signature)];
            let before = t.redis.keys("bgtest");
            let status = t.send("/webhooks/pagerduty", &headers, body.clone());
            prop_assert!(
                [StatusCode::OK, StatusCode::ACCEPTED, StatusCode::BAD_REQUEST].contains(&status),
                "unexpected {status}"
            );
            if status != StatusCode::ACCEPTED {
                prop_assert_eq!(t.redis.keys("bgtest"), before, "a refused webhook changed state");
            }
            let opsgenie = vec![("authorization".to_string(), format!("Bearer {OPSGENIE_TOKEN}").into_bytes())];
            let status = t.send("/webhooks/opsgenie", &opsgenie, body);
            prop_assert!(
                [StatusCode::OK, StatusCode::ACCEPTED, StatusCode::BAD_REQUEST].contains(&status),
                "unexpected {status}"
            );
            Ok(())
        })?;
    }
}
