//! `GET /api/v1/monitoring/stuck`: unfinished runs past their task type's threshold.

use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklens_model::ThresholdSource;
use tasklens_store::StuckRun;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::state::AppState;
use crate::wire::{RunSource, RunStatus};
use axum::Json;

/// The stuck runs now, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StuckResponse {
    pub generated_at: DateTime<Utc>,
    pub runs: Vec<StuckItem>,
}

/// A run that has been running longer than its task type's running threshold, or pending
/// longer than its queue-wait threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StuckItem {
    pub id: i64,
    pub task_name: String,
    pub task_id: String,
    pub attempt: i32,
    pub source: RunSource,
    /// `pending` or `running`.
    pub status: RunStatus,
    /// Since when it has been in its status (started, or enqueued).
    pub since: DateTime<Utc>,
    pub age_ms: i64,
    pub threshold_ms: i64,
    pub threshold_source: ThresholdOrigin,
}

/// Where a threshold came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdOrigin {
    /// A `--stuck-threshold` rule matched the task name.
    Configured,
    /// A multiple of the type's p99 over the last 7 days.
    History,
    /// The floor: the learned value was lower, or the type has no finished run to learn from.
    Floor,
}

impl From<ThresholdSource> for ThresholdOrigin {
    fn from(source: ThresholdSource) -> Self {
        match source {
            ThresholdSource::Configured => Self::Configured,
            ThresholdSource::History => Self::History,
            ThresholdSource::Floor => Self::Floor,
        }
    }
}

impl From<StuckRun> for StuckItem {
    fn from(run: StuckRun) -> Self {
        StuckItem {
            id: run.id,
            task_name: run.task_name,
            task_id: run.task_id,
            attempt: run.attempt,
            source: run.source.into(),
            status: run.status.into(),
            since: run.since,
            age_ms: run.age_ms,
            threshold_ms: run.threshold_ms,
            threshold_source: run.threshold_source.into(),
        }
    }
}

/// Unfinished runs past their task type's threshold, oldest first. A threshold is the first
/// `--stuck-threshold` rule whose glob matches the task name, else 5 times the type's p99 over
/// the last 7 days (duration for running runs, queue wait for pending ones), never below 5
/// minutes.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/stuck",
    tag = "monitoring",
    params(
        ("task_name" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Only this task type (no NUL; surrounding whitespace ignored)"),
    ),
    responses(
        (status = 200, description = "Stuck runs", body = StuckResponse),
        (status = 400, description = "Invalid parameter", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn stuck(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<StuckResponse>, ApiError> {
    let task_name = params::text(&QueryParams::parse(raw.as_deref()), "task_name")?;
    let generated_at = Utc::now();
    let runs = state
        .store
        .stuck_runs(&state.stuck_thresholds, task_name.as_deref(), generated_at)
        .await?;
    Ok(Json(StuckResponse {
        generated_at,
        runs: runs.into_iter().map(StuckItem::from).collect(),
    }))
}
