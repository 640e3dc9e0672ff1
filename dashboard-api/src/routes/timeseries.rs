//! `GET /api/v1/monitoring/timeseries`: throughput and durations per task type and time bucket.

use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tasklens_model::Granularity;
use tasklens_store::TimeseriesPoint;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::read_cache::{JsonBody, ReadKey};
use crate::state::AppState;

/// The size of a chart's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BucketSize {
    Minute,
    Hour,
    Day,
}

impl From<Granularity> for BucketSize {
    fn from(granularity: Granularity) -> Self {
        match granularity {
            Granularity::Minute => Self::Minute,
            Granularity::Hour => Self::Hour,
            Granularity::Day => Self::Day,
        }
    }
}

/// Chart data: minute buckets up to 6 hours, hour buckets up to 7 days, day buckets beyond.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimeseriesResponse {
    pub granularity: BucketSize,
    /// 60, 3600 or 86400.
    pub bucket_seconds: i64,
    /// Start of the first bucket.
    pub start: DateTime<Utc>,
    /// Now (exclusive).
    pub end: DateTime<Utc>,
    /// Sorted by bucket, then task name; buckets without runs are absent.
    pub points: Vec<TimeseriesPointItem>,
}

/// One task type in one bucket: runs created in the bucket by current status, and durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimeseriesPointItem {
    /// Start of the bucket.
    pub bucket: DateTime<Utc>,
    pub task_name: String,
    /// The worker's `service.name`; null where the runs did not say.
    pub service: Option<String>,
    /// The worker's deployment environment; null where the runs did not say.
    pub environment: Option<String>,
    pub pending: i64,
    pub running: i64,
    pub success: i64,
    pub failed: i64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
}

impl From<TimeseriesPoint> for TimeseriesPointItem {
    fn from(p: TimeseriesPoint) -> Self {
        TimeseriesPointItem {
            bucket: p.bucket,
            task_name: p.task_name,
            service: p.service,
            environment: p.environment,
            pending: p.pending,
            running: p.running,
            success: p.success,
            failed: p.failed,
            p50_duration_ms: p.p50_duration_ms,
            p95_duration_ms: p.p95_duration_ms,
        }
    }
}

/// Throughput by status and p50/p95 duration per task type and bucket over a window.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/timeseries",
    tag = "monitoring",
    params(
        ("time_window" = Option<u32>, Query, minimum = 1, maximum = 720,
         description = "Window in hours, 1 to 720; default 24"),
        ("task_name" = Option<String>, Query, max_length = 500, pattern = "^[^\\x00]*$",
         description = "Only this task name (no NUL; surrounding whitespace ignored)"),
        params::ServiceParams,
    ),
    responses(
        (status = 200, description = "Chart points", body = TimeseriesResponse),
        (status = 400, description = "Invalid parameter", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn timeseries(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<JsonBody, ApiError> {
    let now = Utc::now();
    let params = QueryParams::parse(raw.as_deref());
    let (query, granularity) = params::timeseries(&params, now)?;
    // Keyed by the window's length: the window moves with `now`, the question does not.
    let key = ReadKey::Timeseries {
        window_hours: params::time_window(&params)?,
        task_type: query.task_type.clone(),
    };
    let store = &state.store;
    state
        .read_cache
        .get_or_load(key, || async move {
            let mut points: Vec<TimeseriesPointItem> = store
                .timeseries(&query)
                .await?
                .into_iter()
                .map(TimeseriesPointItem::from)
                .collect();
            points.sort_by(|a, b| {
                (a.bucket, &a.task_name, &a.service, &a.environment).cmp(&(
                    b.bucket,
                    &b.task_name,
                    &b.service,
                    &b.environment,
                ))
            });
            Ok(TimeseriesResponse {
                granularity: granularity.into(),
                bucket_seconds: granularity.step().num_seconds(),
                start: query.start,
                end: now,
                points,
            })
        })
        .await
}
