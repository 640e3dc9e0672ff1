//! `GET /api/v1/monitoring/history`: runs, newest first, filtered and paged.

use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklens_store::StoredRun;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::read_cache::{JsonBody, ReadKey};
use crate::state::AppState;
use crate::wire::{DateOrTime, RunSource, RunStatus};

/// One page of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    /// Matching runs; a lower bound when `total_is_exact` is false.
    pub total_count: i64,
    /// False when a free-text search stopped counting at its cap (1000): "at least".
    pub total_is_exact: bool,
    pub page: u32,
    pub page_size: u32,
    pub total_pages: i64,
    /// Newest first.
    pub items: Vec<HistoryItem>,
}

/// A run as listed in the history: what ran, its status, params, times and error, plus its
/// identity (task id, attempt, source), queue and queue wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub id: i64,
    pub task_name: String,
    pub status: RunStatus,
    /// The task's parameters (any JSON value, or null), secrets redacted.
    pub params: Option<serde_json::Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
    pub error_traceback: Option<String>,
    pub created_at: DateTime<Utc>,
    pub task_id: String,
    pub attempt: i32,
    pub source: RunSource,
    pub queue: Option<String>,
    pub queue_wait_ms: Option<i64>,
    pub updated_at: DateTime<Utc>,
    /// The worker's `service.name`; null until a worker reports the run, or when it did not say.
    pub service_name: Option<String>,
    /// The worker's deployment environment.
    pub environment: Option<String>,
}

impl From<StoredRun> for HistoryItem {
    fn from(run: StoredRun) -> Self {
        let duration_ms = run.duration_ms();
        let queue_wait_ms = run.queue_wait_ms();
        let s = run.state;
        HistoryItem {
            id: run.id,
            task_name: s.task_name,
            status: s.status.into(),
            params: s.params,
            started_at: s.started_at,
            completed_at: s.completed_at,
            duration_ms,
            error_message: s.error_message,
            error_traceback: s.error_traceback,
            created_at: run.created_at,
            task_id: s.task_id,
            attempt: s.attempt,
            source: s.source.into(),
            queue: s.queue,
            queue_wait_ms,
            updated_at: run.updated_at,
            service_name: s.service_name,
            environment: s.environment,
        }
    }
}

/// Runs created in a range, newest first, filtered by task type, status and free text.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/history",
    tag = "monitoring",
    params(
        ("task_name" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Only this task name (no NUL; surrounding whitespace ignored)"),
        params::ServiceParams,
        ("status" = Option<RunStatus>, Query, description = "Only runs in this status"),
        ("start_date" = Option<DateOrTime>, Query,
         description = "Created at or after: an RFC 3339 time, or YYYY-MM-DD (from its midnight UTC)"),
        ("end_date" = Option<DateOrTime>, Query,
         description = "Created before: an RFC 3339 time, or YYYY-MM-DD meaning that whole day. \
                        Not before start_date (400)"),
        ("q" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Free text: a task id (exact or prefix), or part of an error message or of the params' JSON text (case-insensitive; no NUL; surrounding whitespace ignored)"),
        ("error_group" = Option<i64>, Query, minimum = 1,
         description = "Only the runs of this error group"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 2147483647,
         description = "From 1; default 1"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 200,
         description = "1 to 200; default 50"),
    ),
    responses(
        (status = 200, description = "One page of runs", body = HistoryResponse),
        (status = 400, description = "Invalid parameter", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn history(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<JsonBody, ApiError> {
    let query = params::history(&QueryParams::parse(raw.as_deref()))?;
    let store = &state.store;
    state
        .read_cache
        .get_or_load(ReadKey::history(&query), || async move {
            let page = store.history(&query).await?;
            let total_pages = page.total_pages();
            Ok(HistoryResponse {
                total_count: page.total_count,
                total_is_exact: page.total_is_exact,
                page: page.page,
                page_size: page.page_size,
                total_pages,
                items: page.items.into_iter().map(HistoryItem::from).collect(),
            })
        })
        .await
}
