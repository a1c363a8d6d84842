//! `POST /webhooks/{source}`: read the body under the size limit, hand it to the intake service,
//! answer as the HTTP API (docs/api.md) says (202 applied, 200 duplicate or ignored, 4xx refused,
//! 503 store down).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::{client_ip, request_id, AppState};
use crate::incidents::Source;
use crate::metrics::SourceLabel;
use crate::store::StoreError;
use crate::webhooks::intake::{IntakeError, IntakeOutcome};

pub async fn receive(
    State(state): State<AppState>,
    Path(source): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(source) = source.parse::<Source>() else {
        return ApiError::not_found(
            "not_found",
            "no such webhook source; use pagerduty, opsgenie, grafana-oncall or grafana-incident",
        )
        .into_response();
    };
    let started = Instant::now();
    let (outcome, response) = handle(&state, source, peer, headers, body).await;
    state.metrics.webhook(source.as_str(), outcome);
    state
        .metrics
        .webhook_duration
        .get_or_create(&SourceLabel {
            source: source.as_str().to_owned(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Providers give up after 4 to 5 seconds; answering 503 before then lets them retry cleanly
/// (a write that did land is then recognised as a duplicate).
const DEADLINE: Duration = Duration::from_secs(3);

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Returns the metrics outcome label with the response.
async fn handle(
    state: &AppState,
    source: Source,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> (&'static str, Response) {
    let limit = state.config.server.body_limit_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) if is_length_limit(&e) => {
            return ("too_large", ApiError::too_large(limit).into_response())
        }
        Err(_) => {
            let error = ApiError::invalid("the request body could not be read; send it again");
            return ("unreadable", error.into_response());
        }
    };
    let ip = client_ip(peer, &headers, &state.config.server.trusted_proxies);
    let request_id = request_id(&headers);
    let received = state.intake.receive(source, ip, headers, body, &request_id);
    let result = match tokio::time::timeout(DEADLINE, received).await {
        Ok(result) => result,
        Err(_) => Err(IntakeError::Store(StoreError::Timeout(DEADLINE))),
    };
    match result {
        Ok(IntakeOutcome::Applied { incidents }) => {
            tracing::info!(%source, incidents = ?incidents.iter().map(ToString::to_string).collect::<Vec<_>>(), "webhook applied");
            (
                "applied",
                (
                    StatusCode::ACCEPTED,
                    Json(json!({"result": "applied", "incidents": incidents})),
                )
                    .into_response(),
            )
        }
        Ok(IntakeOutcome::Duplicate) => (
            "duplicate",
            (StatusCode::OK, Json(json!({"result": "duplicate"}))).into_response(),
        ),
        Ok(IntakeOutcome::Ignored { kind }) => {
            tracing::info!(%source, kind = %kind.chars().take(80).collect::<String>(), "webhook ignored");
            (
                "ignored",
                (StatusCode::OK, Json(json!({"result": "ignored"}))).into_response(),
            )
        }
        Err(e) => {
            let outcome = match &e {
                IntakeError::NotEnabled(_) => "disabled",
                IntakeError::AddressNotAllowed(_) => "address_refused",
                IntakeError::Unauthenticated(_) => "unauthenticated",
                IntakeError::RateLimited => "rate_limited",
                IntakeError::Payload(_) => "invalid_payload",
                IntakeError::Store(_) => "unavailable",
            };
            (outcome, ApiError::from(e).into_response())
        }
    }
}
