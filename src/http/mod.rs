//! The HTTP edge: the router, shared state, middleware (request ids, tracing) and the handlers
//! for webhooks, the responder API and operations. Handlers are thin: they authenticate, call a
//! service, and map its result to the answers of the HTTP API (docs/api.md).

mod audit;
mod elevations;
mod error;
mod incidents;
mod ops;
mod review;
mod webhooks;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Request};
use axum::routing::{get, post};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use error::ApiError;

use crate::auth::{ApiAuth, Principal};
use crate::config::{Config, IpRange};
use crate::elevation::Elevation;
use crate::incidents::IncidentStore;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::webhooks::intake::Intake;
use governor::DefaultKeyedRateLimiter;

/// Everything a handler may use. One pointer: axum clones it for every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts behind [`AppState`].
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub incidents: IncidentStore,
    pub intake: Arc<Intake>,
    pub elevation: Arc<Elevation>,
    /// Elevation requests per person: at least 30 a minute get through (the HTTP API promises it: docs/api.md).
    pub elevation_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub api_auth: Arc<ApiAuth>,
    pub metrics: Arc<Metrics>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<_>| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    Router::new()
        .route("/webhooks/{source}", post(webhooks::receive))
        .route("/v1/elevations", post(elevations::create))
        .route(
            "/v1/elevations/{id}",
            get(elevations::get).delete(elevations::revoke),
        )
        .route("/v1/elevations/{id}/approve", post(elevations::approve))
        .route("/v1/audit", get(audit::export))
        .route("/v1/incidents", get(incidents::list))
        .route("/v1/incidents/{id}", get(incidents::get))
        .route("/v1/incidents/{id}/review", get(review::get))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { ApiError::not_found("not_found", "no such endpoint") })
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The authenticated caller of an API endpoint.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        Ok(Caller(state.api_auth.authenticate(header).await?))
    }
}

/// The request id set by the middleware (or sent by a proxy).
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
        .unwrap_or_default()
}

/// The caller's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    let peer = peer.ip();
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}
