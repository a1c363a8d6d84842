//! `GET /v1/incidents/{id}/review?format=json|csv|md|html`: the post-incident review, for the
//! incident's responders (present or past), the people who held or approved a binding on it,
//! and admins.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, Caller};
use crate::review::{self, render};

#[derive(Debug, Deserialize)]
pub struct ReviewQuery {
    format: Option<String>,
}

/// The page may show nothing from elsewhere: no scripts, no fetches, only its inline style.
const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    query: Result<Query<ReviewQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let format = query.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "md" | "html") {
        return Err(ApiError::invalid(
            "format must be one of json, csv, md, html",
        ));
    }
    let (id, incident) = super::incidents::find(&state, &id).await?;
    let bindings = state.elevation.for_incident(&id).await?;
    let involved = incident.is_or_was_responder(&caller.subject)
        || bindings.iter().any(|b| {
            b.subject.eq_ignore_ascii_case(&caller.subject)
                || b.approved_by
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&caller.subject))
        });
    if !caller.admin && !involved {
        return Err(ApiError::forbidden(
            "the review is for the incident's responders and admins; ask a breakglass admin for it",
        ));
    }
    let (events, archived) = review::load::events(&state.store, &id).await?;
    let review = review::build(&incident, &bindings, &events, archived, Utc::now());
    let file = id.to_string().replace([':', '/'], "-");
    let attachment = |ext: &str| format!("attachment; filename=\"review-{file}.{ext}\"");
    Ok(match format {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, attachment("csv")),
            ],
            render::csv(&review),
        )
            .into_response(),
        "md" => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/markdown; charset=utf-8".to_owned(),
                ),
                (header::CONTENT_DISPOSITION, attachment("md")),
            ],
            render::markdown(&review),
        )
            .into_response(),
        "html" => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (header::CONTENT_SECURITY_POLICY, HTML_CSP.to_owned()),
            ],
            render::html(&review),
        )
            .into_response(),
        _ => axum::Json(review).into_response(),
    })
}
