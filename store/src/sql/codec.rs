//! Rows into model types, written once over a [`Dialect`]'s typed getters.

use chrono::{DateTime, Utc};
use tasklens_model::{Contribution, RollupFigures, RunState, SourceSystem, TaskStatus, TaskType};

use super::{Columns, Dialect, Row};
use crate::core::stuck::InFlightRun;
use crate::error::StoreError;
use crate::runs::{AttemptSummary, StoredRun};

fn status(text: &str) -> Result<TaskStatus, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{e}")))
}

fn source(text: &str) -> Result<SourceSystem, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{e}")))
}

fn fixed<const N: usize>(
    bytes: Option<Vec<u8>>,
    what: &str,
) -> Result<Option<[u8; N]>, StoreError> {
    bytes
        .map(|b| {
            <[u8; N]>::try_from(b.as_slice())
                .map_err(|_| StoreError::Corrupt(format!("{what} of {} bytes", b.len())))
        })
        .transpose()
}

/// A run, from the columns of [`Dialect::RUN_COLUMNS`].
pub(crate) fn stored_run<D: Dialect>(row: &Row<D>) -> Result<StoredRun, StoreError> {
    let state = RunState {
        source: source(&row.text("source")?)?,
        task_id: row.text("task_id")?,
        attempt: row.int4("attempt")?,
        task_name: row.text("task_name")?,
        status: status(&row.text("status")?)?,
        enqueued_at: D::opt_time(row, "enqueued_at")?,
        started_at: D::opt_time(row, "started_at")?,
        completed_at: D::opt_time(row, "completed_at")?,
        params: D::params(row, "params")?,
        error_message: row.opt_text("error_message")?,
        error_type: row.opt_text("error_type")?,
        error_traceback: row.opt_text("error_traceback")?,
        trace_id: fixed(row.opt_bytes("trace_id")?, "trace id")?,
        span_id: fixed(row.opt_bytes("span_id")?, "span id")?,
        queue: row.opt_text("queue")?,
        service_name: row.opt_text("service_name")?,
        environment: row.opt_text("environment")?,
        worker_host: row.opt_text("worker_host")?,
    };
    Ok(StoredRun {
        id: row.int("id")?,
        created_at: D::time(row, "created_at")?,
        updated_at: D::time(row, "updated_at")?,
        state,
    })
}

/// An unfinished run, from the columns of [`super::in_flight_runs`].
pub(crate) fn in_flight_run<D: Dialect>(row: &Row<D>) -> Result<InFlightRun, StoreError> {
    Ok(InFlightRun {
        id: row.int("id")?,
        task_type: TaskType::new(
            &row.text("task_name")?,
            row.opt_text("service_name")?.as_deref(),
            row.opt_text("environment")?.as_deref(),
        ),
        task_id: row.text("task_id")?,
        attempt: row.int4("attempt")?,
        source: source(&row.text("source")?)?,
        status: status(&row.text("status")?)?,
        created_at: D::time(row, "created_at")?,
        enqueued_at: D::opt_time(row, "enqueued_at")?,
        started_at: D::opt_time(row, "started_at")?,
    })
}

/// The figures of a rollup row, from the columns of [`super::ROLLUP_FIGURES`].
pub(crate) fn rollup_figures<D: Dialect>(row: &Row<D>) -> Result<RollupFigures, StoreError> {
    Ok(RollupFigures {
        status_counts: [
            row.int("pending")?,
            row.int("running")?,
            row.int("success")?,
            row.int("failed")?,
        ],
        duration_count: row.int("duration_count")?,
        duration_sum_ms: row.int("duration_sum_ms")?,
        duration_hist: D::histogram(row, "duration_hist")?,
        wait_count: row.int("wait_count")?,
        wait_sum_ms: row.int("wait_sum_ms")?,
        wait_hist: D::histogram(row, "wait_hist")?,
    })
}

/// A rollup row's task type, from its `task_name`, `service` and `environment` columns.
pub(crate) fn task_type<D: Dialect>(row: &Row<D>) -> Result<TaskType, StoreError> {
    Ok(TaskType {
        task_name: row.text("task_name")?,
        service: row.text("service")?,
        environment: row.text("environment")?,
    })
}

/// A rollup row's task type and figures.
pub(crate) fn typed_rollup<D: Dialect>(
    row: &Row<D>,
) -> Result<(TaskType, RollupFigures), StoreError> {
    Ok((task_type::<D>(row)?, rollup_figures::<D>(row)?))
}

/// A chart's rollup row: its bucket, task type and figures.
pub(crate) fn bucket_rollup<D: Dialect>(
    row: &Row<D>,
) -> Result<(DateTime<Utc>, TaskType, RollupFigures), StoreError> {
    let (task_type, figures) = typed_rollup::<D>(row)?;
    Ok((D::time(row, "bucket")?, task_type, figures))
}

/// What a raw row adds to the figures, and when the row was created (its buckets), from the
/// columns of [`super::raw_contributions`].
pub(crate) fn contribution<D: Dialect>(
    row: &Row<D>,
) -> Result<(DateTime<Utc>, Contribution), StoreError> {
    let task_type = TaskType::new(
        &row.text("task_name")?,
        row.opt_text("service_name")?.as_deref(),
        row.opt_text("environment")?.as_deref(),
    );
    Ok((
        D::time(row, "created_at")?,
        Contribution {
            task_type,
            status: status(&row.text("status")?)?,
            duration_ms: row.opt_int("duration_ms")?,
            queue_wait_ms: row.opt_int("queue_wait_ms")?,
        },
    ))
}

pub(crate) fn attempt_summary<D: Dialect>(row: &Row<D>) -> Result<AttemptSummary, StoreError> {
    Ok(AttemptSummary {
        id: row.int("id")?,
        attempt: row.int4("attempt")?,
        status: status(&row.text("status")?)?,
        created_at: D::time(row, "created_at")?,
        started_at: D::opt_time(row, "started_at")?,
        completed_at: D::opt_time(row, "completed_at")?,
        duration_ms: row.opt_int("duration_ms")?,
        error_message: row.opt_text("error_message")?,
    })
}
