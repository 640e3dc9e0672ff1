//! The error groups (issue 15): `GET /api/v1/monitoring/errors` (groups seen in a window, with
//! their failures per bucket from the group rollups), `GET /api/v1/monitoring/errors/{id}` (one
//! group, its traceback and latest runs) and `POST /api/v1/monitoring/errors/{id}/state`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tasklens_store::{ErrorGroup, ErrorGroupState, ErrorGroupSummary};
use utoipa::ToSchema;

use super::history::HistoryItem;
use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::state::AppState;

/// The groups seen in the window, most recently seen first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorsResponse {
    pub time_window_hours: u32,
    pub generated_at: DateTime<Utc>,
    pub groups: Vec<ErrorGroupItem>,
}

/// Where a group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupState {
    Open,
    Resolved,
    Ignored,
}

impl From<ErrorGroupState> for GroupState {
    fn from(state: ErrorGroupState) -> Self {
        match state {
            ErrorGroupState::Open => Self::Open,
            ErrorGroupState::Resolved => Self::Resolved,
            ErrorGroupState::Ignored => Self::Ignored,
        }
    }
}

impl From<GroupState> for ErrorGroupState {
    fn from(state: GroupState) -> Self {
        match state {
            GroupState::Open => Self::Open,
            GroupState::Resolved => Self::Resolved,
            GroupState::Ignored => Self::Ignored,
        }
    }
}

/// Failures in one bucket (an hour for windows up to 48 hours, a day beyond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BucketItem {
    pub bucket: DateTime<Utc>,
    pub count: i64,
}

/// One group in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorGroupItem {
    pub id: i64,
    pub task_name: String,
    /// The task type's service (the worker's `service.name`); null where its runs do not say.
    pub service: Option<String>,
    /// The task type's deployment environment; null where its runs do not say.
    pub environment: Option<String>,
    pub error_type: Option<String>,
    /// The newest failure's message.
    pub message: Option<String>,
    /// Failures in the window.
    pub count: i64,
    /// Failures ever.
    pub total: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// First seen inside the window.
    pub is_new: bool,
    pub state: GroupState,
    /// Reopened by a new failure after it was resolved.
    pub regression: bool,
    /// Every bucket of the window, oldest first.
    pub buckets: Vec<BucketItem>,
}

impl From<ErrorGroupSummary> for ErrorGroupItem {
    fn from(summary: ErrorGroupSummary) -> Self {
        let g = summary.group;
        ErrorGroupItem {
            id: g.id,
            task_name: g.task_name,
            service: g.service,
            environment: g.environment,
            error_type: g.error_type,
            message: g.message,
            count: summary.count,
            total: g.total,
            first_seen: g.first_seen,
            last_seen: g.last_seen,
            is_new: summary.is_new,
            state: g.state.into(),
            regression: g.regression,
            buckets: summary
                .buckets
                .into_iter()
                .map(|b| BucketItem {
                    bucket: b.bucket,
                    count: b.count,
                })
                .collect(),
        }
    }
}

/// One group, with the newest failure's traceback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorGroupResponse {
    pub id: i64,
    pub task_name: String,
    /// The task type's service; null where its runs do not say.
    pub service: Option<String>,
    /// The task type's deployment environment; null where its runs do not say.
    pub environment: Option<String>,
    pub error_type: Option<String>,
    pub message: Option<String>,
    /// The representative (newest) traceback.
    pub traceback: Option<String>,
    pub total: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub state: GroupState,
    pub regression: bool,
    pub state_changed_at: DateTime<Utc>,
    /// The group's latest runs, newest first (at most 10; runs past retention are gone).
    pub latest_runs: Vec<HistoryItem>,
}

fn group_response(group: ErrorGroup, latest_runs: Vec<HistoryItem>) -> ErrorGroupResponse {
    ErrorGroupResponse {
        id: group.id,
        task_name: group.task_name,
        service: group.service,
        environment: group.environment,
        error_type: group.error_type,
        message: group.message,
        traceback: group.traceback,
        total: group.total,
        first_seen: group.first_seen,
        last_seen: group.last_seen,
        state: group.state.into(),
        regression: group.regression,
        state_changed_at: group.state_changed_at,
        latest_runs,
    }
}

/// The body of a state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    pub state: GroupState,
}

fn group_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid("id", "id must be a positive integer"))?;
    params::run_id(&text)
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no error group with id {id}"))
}

/// The error groups seen in the window, most recently seen first, each with its failures in
/// the window per bucket (read from the group rollups, not the runs).
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/errors",
    tag = "monitoring",
    params(
        ("time_window" = Option<u32>, Query, minimum = 1, maximum = 720,
         description = "Hours back from now; default 24"),
        ("task_name" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Only this task name (no NUL; surrounding whitespace ignored)"),
        params::ServiceParams,
    ),
    responses(
        (status = 200, description = "Error groups", body = ErrorsResponse),
        (status = 400, description = "Invalid parameter", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn errors(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ErrorsResponse>, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let hours = params::time_window(&query)?;
    let filter = params::task_type(&query)?;
    let generated_at = Utc::now();
    let since = generated_at - TimeDelta::hours(i64::from(hours));
    let groups = state.store.error_groups(since, &filter).await?;
    Ok(Json(ErrorsResponse {
        time_window_hours: hours,
        generated_at,
        groups: groups.into_iter().map(ErrorGroupItem::from).collect(),
    }))
}

/// One error group: its representative traceback and its latest runs.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/errors/{id}",
    tag = "monitoring",
    params(("id" = i64, Path, minimum = 1, description = "The group's id")),
    responses(
        (status = 200, description = "The group", body = ErrorGroupResponse),
        (status = 400, description = "The id is not a positive integer", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 404, description = "No such group", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn error_group(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ErrorGroupResponse>, ApiError> {
    let id = group_id(path)?;
    let detail = state
        .store
        .error_group(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let runs = detail
        .latest_runs
        .into_iter()
        .map(HistoryItem::from)
        .collect();
    Ok(Json(group_response(detail.group, runs)))
}

/// Resolves, ignores or reopens a group (a hand-made change clears its regression mark). A
/// resolved group reopens by itself, as a regression, when it fails again.
#[utoipa::path(
    post,
    path = "/api/v1/monitoring/errors/{id}/state",
    tag = "monitoring",
    params(("id" = i64, Path, minimum = 1, description = "The group's id")),
    request_body = StateChange,
    responses(
        (status = 200, description = "The group, changed", body = ErrorGroupResponse),
        (status = 400, description = "Bad id or body", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 404, description = "No such group", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn set_state(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<ErrorGroupResponse>, ApiError> {
    let id = group_id(path)?;
    let change: StateChange = serde_json::from_slice(&body).map_err(|_| {
        ApiError::invalid(
            "state",
            "the body must be {\"state\": \"open\" | \"resolved\" | \"ignored\"}",
        )
    })?;
    let group = state
        .store
        .set_error_group_state(id, change.state.into())
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(group_response(group, Vec::new())))
}
