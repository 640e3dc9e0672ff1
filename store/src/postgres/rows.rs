//! Decoding rows into model types, and the column lists the statements share.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use tasklens_model::{RunState, SourceSystem, TaskStatus};

use crate::error::StoreError;
use crate::types::StoredRun;

/// The columns [`stored_run`] decodes, in a SELECT list.
pub(super) const RUN_COLUMNS: &str = "id, created_at, updated_at, enqueued_at, started_at, \
     completed_at, attempt, status::text AS status, source::text AS source, task_name, task_id, \
     trace_id, span_id, queue, service_name, worker_host, error_type, params, error_message, \
     error_traceback";

pub(super) fn status(text: &str) -> Result<TaskStatus, StoreError> {
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

pub(super) fn stored_run(row: &PgRow) -> Result<StoredRun, StoreError> {
    let source: String = row.try_get("source")?;
    let status_text: String = row.try_get("status")?;
    let state = RunState {
        source: source
            .parse::<SourceSystem>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        task_id: row.try_get("task_id")?,
        attempt: row.try_get("attempt")?,
        task_name: row.try_get("task_name")?,
        status: status(&status_text)?,
        enqueued_at: row.try_get("enqueued_at")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        params: row.try_get("params")?,
        error_message: row.try_get("error_message")?,
        error_type: row.try_get("error_type")?,
        error_traceback: row.try_get("error_traceback")?,
        trace_id: fixed(row.try_get("trace_id")?, "trace id")?,
        span_id: fixed(row.try_get("span_id")?, "span id")?,
        queue: row.try_get("queue")?,
        service_name: row.try_get("service_name")?,
        worker_host: row.try_get("worker_host")?,
    };
    Ok(StoredRun {
        id: row.try_get("id")?,
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        updated_at: row.try_get::<DateTime<Utc>, _>("updated_at")?,
        state,
    })
}
