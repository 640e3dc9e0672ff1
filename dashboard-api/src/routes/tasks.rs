//! `GET /api/v1/monitoring/tasks/{id}`: one run in full, with its task id's other attempts.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklens_store::{AttemptSummary, RunDetail};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::params;
use crate::state::AppState;
use crate::wire::{RunSource, RunStatus};

/// A run in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunDetailResponse {
    pub id: i64,
    pub task_id: String,
    pub task_name: String,
    pub status: RunStatus,
    pub attempt: i32,
    pub source: RunSource,
    /// The task's parameters (any JSON value, or null), secrets redacted.
    pub params: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub queue_wait_ms: Option<i64>,
    pub error_message: Option<String>,
    pub error_type: Option<String>,
    pub error_traceback: Option<String>,
    /// 32 lowercase hex digits.
    pub trace_id: Option<String>,
    /// 16 lowercase hex digits.
    pub span_id: Option<String>,
    pub queue: Option<String>,
    pub service_name: Option<String>,
    /// The worker's deployment environment.
    pub environment: Option<String>,
    pub worker_host: Option<String>,
    /// The other attempts of the same task id, by attempt.
    pub other_attempts: Vec<AttemptItem>,
}

/// Another attempt of the same task id, in short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttemptItem {
    pub id: i64,
    pub attempt: i32,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
}

impl From<AttemptSummary> for AttemptItem {
    fn from(a: AttemptSummary) -> Self {
        AttemptItem {
            id: a.id,
            attempt: a.attempt,
            status: a.status.into(),
            created_at: a.created_at,
            started_at: a.started_at,
            completed_at: a.completed_at,
            duration_ms: a.duration_ms,
            error_message: a.error_message,
        }
    }
}

fn lower_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

impl From<RunDetail> for RunDetailResponse {
    fn from(detail: RunDetail) -> Self {
        let run = detail.run;
        let duration_ms = run.duration_ms();
        let queue_wait_ms = run.queue_wait_ms();
        let s = run.state;
        RunDetailResponse {
            id: run.id,
            task_id: s.task_id,
            task_name: s.task_name,
            status: s.status.into(),
            attempt: s.attempt,
            source: s.source.into(),
            params: s.params,
            created_at: run.created_at,
            updated_at: run.updated_at,
            enqueued_at: s.enqueued_at,
            started_at: s.started_at,
            completed_at: s.completed_at,
            duration_ms,
            queue_wait_ms,
            error_message: s.error_message,
            error_type: s.error_type,
            error_traceback: s.error_traceback,
            trace_id: s.trace_id.map(|id| lower_hex(&id)),
            span_id: s.span_id.map(|id| lower_hex(&id)),
            queue: s.queue,
            service_name: s.service_name,
            environment: s.environment,
            worker_host: s.worker_host,
            other_attempts: detail
                .other_attempts
                .into_iter()
                .map(AttemptItem::from)
                .collect(),
        }
    }
}

/// One run in full (params, timings, error, traceback, trace) and the other attempts of its
/// task id.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/tasks/{id}",
    tag = "monitoring",
    params(("id" = i64, Path, minimum = 1, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunDetailResponse),
        (status = 400, description = "The id is not a positive integer", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 404, description = "No such run", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn task(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<RunDetailResponse>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid("id", "id must be a positive integer"))?;
    let id = params::run_id(&text)?;
    match state.store.run(id).await? {
        Some(detail) => Ok(Json(detail.into())),
        None => Err(ApiError::NotFound(format!("no run with id {id}"))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_lowercase_hex() {
        assert_eq!(super::lower_hex(&[0x0a, 0xff, 0x00]), "0aff00");
        assert_eq!(super::lower_hex(&[7; 16]).len(), 32);
    }
}
