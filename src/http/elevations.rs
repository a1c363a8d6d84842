//! The elevation endpoints of the HTTP API (docs/api.md): request, read, approve and revoke a
//! binding.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use std::time::Duration;

use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Serialize;

use super::error::ApiError;
use super::{AppState, Caller};
use crate::auth::Principal;
use crate::bindings::{Binding, BindingId, BindingStatus};
use crate::elevation::{ElevationRequest, Requested};

/// A binding as the API shows it: the stored binding plus, while it is active, the command that
/// assumes its role.
#[derive(Debug, Serialize)]
pub struct BindingView {
    #[serde(flatten)]
    pub binding: Binding,
    pub assume_role_command: Option<String>,
}

impl From<Binding> for BindingView {
    fn from(binding: Binding) -> Self {
        let assume_role_command = match (&binding.status, &binding.role_arn, binding.expires_at) {
            (BindingStatus::Active, Some(arn), Some(expires_at)) => {
                // AWS takes 900 to MaxSessionDuration (3600) seconds; the role's expiry
                // condition ends access at expires_at whatever the session says.
                let left = (expires_at - Utc::now()).num_seconds().clamp(900, 3600);
                let session: String = binding
                    .subject
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
                    .take(64)
                    .collect();
                Some(format!(
                    "aws sts assume-role --role-arn {arn} --role-session-name {session} --duration-seconds {left}"
                ))
            }
            _ => None,
        };
        Self {
            binding,
            assume_role_command,
        }
    }
}

fn binding_id(raw: &str) -> Result<BindingId, ApiError> {
    raw.parse().map_err(|e: crate::bindings::InvalidBindingId| {
        ApiError::not_found("not_found", e.to_string())
    })
}

/// `Server-Timing` for a grant: the time spent in IAM, so that callers and benchmarks can tell
/// the service's own share of the latency from AWS's.
fn server_timing(iam: Duration) -> [(HeaderName, String); 1] {
    [(
        HeaderName::from_static("server-timing"),
        format!("iam;dur={:.3}", iam.as_secs_f64() * 1000.0),
    )]
}

/// The per-person limit on the calls that can write: elevation requests and approvals (each,
/// granted or refused, is recorded in the audit trail).
fn rate_limit(state: &AppState, caller: &Principal) -> Result<(), ApiError> {
    state
        .elevation_limiter
        .check_key(&caller.subject.to_ascii_lowercase())
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many elevation requests or approvals from you; wait a few seconds and retry",
            )
        })
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Result<Json<ElevationRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    rate_limit(&state, &caller)?;
    let Json(request) = body.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!(
                "the body must be JSON like {{\"incident\": \"pagerduty:PFQZPSY\", \"role\": \"prod-db-read\", \"duration\": \"30m\", \"reason\": \"...\"}}: {}",
                e.body_text()
            ),
        )
    })?;
    let (status, binding, iam) = match state.elevation.request(&caller, &request).await {
        Ok(Requested::Existing(b)) => (StatusCode::OK, b, Duration::ZERO),
        Ok(Requested::New { binding, iam }) if binding.status == BindingStatus::PendingApproval => {
            (StatusCode::ACCEPTED, binding, iam)
        }
        Ok(Requested::New { binding, iam }) => (StatusCode::CREATED, binding, iam),
        Err(e) => {
            let error = ApiError::from(e);
            state.metrics.elevation(error.code);
            return Err(error);
        }
    };
    state.metrics.elevation(match status {
        StatusCode::CREATED => "granted",
        StatusCode::ACCEPTED => "pending_approval",
        _ => "existing",
    });
    if !iam.is_zero() {
        state.metrics.iam_grant_duration.observe(iam.as_secs_f64());
    }
    tracing::info!(binding = %binding.id, incident = %binding.incident, role = %binding.role, status = binding.status.as_str(), "elevation");
    Ok((status, server_timing(iam), Json(BindingView::from(binding))).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<BindingView>, ApiError> {
    let id = binding_id(&id)?;
    Ok(Json(state.elevation.get(&caller, &id).await?.into()))
}

pub async fn approve(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = binding_id(&id)?;
    rate_limit(&state, &caller)?;
    let (binding, iam) = state.elevation.approve(&caller, &id).await?;
    state.metrics.elevation("approved");
    state.metrics.iam_grant_duration.observe(iam.as_secs_f64());
    Ok((server_timing(iam), Json(BindingView::from(binding))).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<BindingView>), ApiError> {
    let id = binding_id(&id)?;
    let binding = state.elevation.revoke(&caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(binding.into())))
}
