//! `GET /v1/incidents/{id}` and `GET /v1/incidents?status=open|all`. Admins see every incident;
//! anyone else sees the incidents they respond (or responded) to.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::elevations::BindingView;
use super::error::ApiError;
use super::{AppState, Caller};
use crate::incidents::{Incident, IncidentId, Listing, Responder, Status};

/// The API view of an incident (docs/api.md).
#[derive(Debug, Serialize)]
pub struct IncidentView {
    pub id: String,
    pub source: &'static str,
    pub status: Status,
    pub title: Option<String>,
    pub service: Option<String>,
    pub teams: Vec<String>,
    pub priority: Option<String>,
    pub link: Option<String>,
    pub responders: Vec<Responder>,
    pub opened_at: chrono::DateTime<chrono::Utc>,
    pub acknowledged_at: Option<chrono::DateTime<chrono::Utc>>,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Every binding of the incident, each as `GET /v1/elevations/{id}` shows it. Only the
    /// single-incident view carries them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Vec<BindingView>>,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> Self {
        Self {
            id: i.id.to_string(),
            source: i.source.as_str(),
            status: i.status,
            title: i.title,
            service: i.service,
            teams: i.teams,
            priority: i.priority,
            link: i.link,
            responders: i.responders,
            opened_at: i.opened_at,
            acknowledged_at: i.acknowledged_at,
            resolved_at: i.resolved_at,
            updated_at: i.updated_at,
            bindings: None,
        }
    }
}

/// The incident a path names: `400` for an id that is not `<source>:<id>`, `404` if unknown.
pub(super) async fn find(state: &AppState, id: &str) -> Result<(IncidentId, Incident), ApiError> {
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::incidents::InvalidIncidentId| ApiError::invalid(e.to_string()))?;
    let incident = state.incidents.get(&id).await?.ok_or_else(|| {
        ApiError::not_found(
            "incident_not_found",
            format!("no incident `{id}`; check the id, or whether the incident tool's webhook reached breakglass"),
        )
    })?;
    Ok((id, incident))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let (id, incident) = find(&state, &id).await?;
    if !caller.admin && !incident.is_or_was_responder(&caller.subject) {
        return Err(ApiError::forbidden(
            "you are not a responder on this incident; ask the incident commander to add you in the incident tool",
        ));
    }
    let bindings = state.elevation.for_incident(&id).await?;
    let mut view = IncidentView::from(incident);
    view.bindings = Some(bindings.into_iter().map(BindingView::from).collect());
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct IncidentList {
    pub incidents: Vec<IncidentView>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<IncidentList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let listing = match query.status.as_deref() {
        None | Some("open") => Listing::Open,
        Some("all") => Listing::All,
        Some(_) => return Err(ApiError::invalid("status must be `open` or `all`")),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let incidents = state
        .incidents
        .list(listing, limit, |i| {
            caller.admin || i.is_or_was_responder(&caller.subject)
        })
        .await?
        .into_iter()
        .map(IncidentView::from)
        .collect();
    Ok(Json(IncidentList { incidents }))
}
