//! The one error shape of the HTTP API: `{"error": {"code", "message"}}` with a stable snake_case
//! code. Every module's error converts into [`ApiError`] here, at the edge; a 5xx never shows
//! internals to the caller, and its full cause is logged once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::auth::AuthError;
use crate::elevation::policy::Denial;
use crate::elevation::ElevationError;
use crate::store::StoreError;
use crate::webhooks::intake::IntakeError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// Webhook authentication failures all look alike; the reason goes to the log only.
    pub fn webhook_unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "webhook authentication failed; check the secret or token configured in the incident tool",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than the {limit}-byte limit"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the state store is unavailable; retry shortly",
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string())
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::NotEnabled(source) => ApiError::not_found(
                "not_found",
                format!("source `{source}` is not enabled; add a [sources.*] section for it"),
            ),
            IntakeError::AddressNotAllowed(_) | IntakeError::Unauthenticated(_) => {
                tracing::warn!(reason = %e, "webhook refused");
                ApiError::webhook_unauthenticated()
            }
            IntakeError::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many webhooks from this source; retry later",
            ),
            IntakeError::Payload(p) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", p.to_string())
            }
            IntakeError::Store(s) => s.into(),
        }
    }
}

impl From<ElevationError> for ApiError {
    fn from(e: ElevationError) -> Self {
        let message = e.to_string();
        match e {
            ElevationError::IncidentNotFound(_) => ApiError::not_found("incident_not_found", message),
            ElevationError::RoleNotFound(..) => ApiError::not_found("role_not_found", message),
            ElevationError::NotFound(_) => ApiError::not_found("not_found", message),
            ElevationError::Forbidden(_) => ApiError::forbidden(message),
            ElevationError::Denied(denial) => {
                let (status, code) = match denial {
                    Denial::IncidentNotOpen => (StatusCode::FORBIDDEN, "incident_not_open"),
                    Denial::NotOnCall => (StatusCode::FORBIDDEN, "not_on_call"),
                    Denial::RoleNotAllowed { .. } => (StatusCode::FORBIDDEN, "role_not_allowed"),
                    Denial::InvalidRequest(_) | Denial::TooManyActive { .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
                    }
                };
                ApiError::new(status, code, message)
            }
            ElevationError::GrantFailed { account, .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "grant_failed",
                format!(
                    "AWS refused or failed the grant{}; nothing was left behind. Retry, and tell the platform team if it persists (breakglass's log says why)",
                    account.map(|a| format!(" in account `{a}`")).unwrap_or_default()
                ),
            ),
            ElevationError::Store(s) => s.into(),
        }
    }
}
