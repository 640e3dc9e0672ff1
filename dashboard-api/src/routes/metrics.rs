//! `GET /api/v1/monitoring/metrics`: figures per task type over a window.

use axum::extract::{RawQuery, State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tasklens_store::TaskMetrics;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::read_cache::{JsonBody, ReadKey};
use crate::state::AppState;

/// Figures per task type over the last `time_window_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsResponse {
    pub time_window_hours: u32,
    pub generated_at: DateTime<Utc>,
    /// Sorted by task name, service and environment.
    pub metrics: Vec<TaskMetricsItem>,
}

/// One task type's figures: runs by status, mean duration and success rate, plus duration and
/// queue-wait percentiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskMetricsItem {
    pub task_name: String,
    /// The worker's `service.name`; null where the runs did not say.
    pub service: Option<String>,
    /// The worker's deployment environment; null where the runs did not say.
    pub environment: Option<String>,
    pub total_executions: i64,
    pub pending: i64,
    pub running: i64,
    pub success: i64,
    pub failed: i64,
    /// Mean duration of finished runs; null when none finished.
    pub avg_duration_ms: Option<f64>,
    /// Percent of all runs that succeeded, two decimals.
    pub success_rate: f64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
    pub p99_duration_ms: Option<f64>,
    pub avg_queue_wait_ms: Option<f64>,
    pub p50_queue_wait_ms: Option<f64>,
    pub p95_queue_wait_ms: Option<f64>,
    pub p99_queue_wait_ms: Option<f64>,
}

impl From<TaskMetrics> for TaskMetricsItem {
    fn from(m: TaskMetrics) -> Self {
        TaskMetricsItem {
            task_name: m.task_name,
            service: m.service,
            environment: m.environment,
            total_executions: m.total_executions,
            pending: m.pending,
            running: m.running,
            success: m.success,
            failed: m.failed,
            avg_duration_ms: m.avg_duration_ms,
            success_rate: super::two_decimals(m.success_rate),
            p50_duration_ms: m.p50_duration_ms,
            p95_duration_ms: m.p95_duration_ms,
            p99_duration_ms: m.p99_duration_ms,
            avg_queue_wait_ms: m.avg_queue_wait_ms,
            p50_queue_wait_ms: m.p50_queue_wait_ms,
            p95_queue_wait_ms: m.p95_queue_wait_ms,
            p99_queue_wait_ms: m.p99_queue_wait_ms,
        }
    }
}

/// Figures per task type for the runs created in the last `time_window` hours.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/metrics",
    tag = "monitoring",
    params(
        ("time_window" = Option<u32>, Query, minimum = 1, maximum = 720,
         description = "Window in hours, 1 to 720; default 24"),
        ("task_name" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Only this task name (no NUL; surrounding whitespace ignored)"),
        params::ServiceParams,
    ),
    responses(
        (status = 200, description = "Figures per task type", body = MetricsResponse),
        (status = 400, description = "Invalid parameter", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn metrics(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<JsonBody, ApiError> {
    let params = QueryParams::parse(raw.as_deref());
    let hours = params::time_window(&params)?;
    let task_type = params::task_type(&params)?;
    let key = ReadKey::Metrics {
        window_hours: hours,
        task_type: task_type.clone(),
    };
    let store = &state.store;
    state
        .read_cache
        .get_or_load(key, || async move {
            // `generated_at` tells a shared answer's age.
            let now = Utc::now();
            let mut metrics: Vec<TaskMetricsItem> = store
                .metrics(now - TimeDelta::hours(i64::from(hours)), &task_type)
                .await?
                .into_iter()
                .map(TaskMetricsItem::from)
                .collect();
            metrics.sort_by(|a, b| {
                (&a.task_name, &a.service, &a.environment).cmp(&(
                    &b.task_name,
                    &b.service,
                    &b.environment,
                ))
            });
            Ok(MetricsResponse {
                time_window_hours: hours,
                generated_at: now,
                metrics,
            })
        })
        .await
}
