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

/// The stuck runs now: how many, how many per task type, and the oldest of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StuckResponse {
    pub generated_at: DateTime<Utc>,
    /// Every stuck run, including those past `limit`.
    pub total: u64,
    /// Stuck runs per task type (all of them, not only those listed), by task name.
    pub by_task: Vec<StuckCount>,
    /// The oldest stuck runs, at most `limit`, oldest first.
    pub runs: Vec<StuckItem>,
}

/// The stuck runs of one task type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StuckCount {
    pub task_name: String,
    /// The worker's `service.name`; null where the runs do not say.
    pub service: Option<String>,
    /// The worker's deployment environment; null where the runs do not say.
    pub environment: Option<String>,
    pub count: u64,
}

/// Runs listed when `limit` is not given: a page's worth; the counts cover the rest.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most runs one answer lists.
pub const MAX_LIMIT: u32 = 1000;

/// Counts `runs` per task type, by task name, service and environment.
fn counts_by_task(runs: &[StuckRun]) -> Vec<StuckCount> {
    type Key<'a> = (&'a str, Option<&'a str>, Option<&'a str>);
    let mut counts = std::collections::BTreeMap::<Key<'_>, u64>::new();
    for run in runs {
        let key = (
            run.task_name.as_str(),
            run.service.as_deref(),
            run.environment.as_deref(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((task_name, service, environment), count)| StuckCount {
            task_name: task_name.to_owned(),
            service: service.map(str::to_owned),
            environment: environment.map(str::to_owned),
            count,
        })
        .collect()
}

/// A run that has been running longer than its task type's running threshold, or pending
/// longer than its queue-wait threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StuckItem {
    pub id: i64,
    pub task_name: String,
    /// The task type's service (the worker's `service.name`); null where the run does not say
    /// (a pending run is counted with its task name's only task type, where it has one).
    pub service: Option<String>,
    /// The task type's deployment environment; null where the run does not say.
    pub environment: Option<String>,
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
            service: run.service,
            environment: run.environment,
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

/// Unfinished runs past their task type's threshold: their number, per task type, and the
/// oldest `limit` of them, oldest first. A threshold is the first
/// `--stuck-threshold` rule whose glob matches the task name, else 5 times the type's p99 over
/// the last 7 days (duration for running runs, queue wait for pending ones), never below 5
/// minutes.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/stuck",
    tag = "monitoring",
    params(
        ("task_name" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Only this task name (no NUL; surrounding whitespace ignored)"),
        params::ServiceParams,
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000,
         description = "Runs listed, oldest first (default 100); `total` and `by_task` count all"),
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
    let params = QueryParams::parse(raw.as_deref());
    let filter = params::task_type(&params)?;
    let limit = params::integer(&params, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)?;
    let generated_at = Utc::now();
    let runs = state
        .store
        .stuck_runs(&state.stuck_thresholds, &filter, generated_at)
        .await?;
    let by_task = counts_by_task(&runs);
    let total = u64::try_from(runs.len()).unwrap_or(u64::MAX);
    let listed = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(Json(StuckResponse {
        generated_at,
        total,
        by_task,
        runs: runs.into_iter().take(listed).map(StuckItem::from).collect(),
    }))
}
