//! The join rows on PostgreSQL (`task_span_joins`): the phases of `core/joins.rs` inside the
//! batch's transaction. Each phase inserts its spans' proposals where no row exists and locks
//! the rows that do, in one statement (spans in key order, so two batches lock shared spans in
//! the same order); a concurrent writer of one of these spans waits for this transaction, and
//! gets what it committed. The rows that resolution changed are written back in one UPDATE.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use tasklens_model::{RunKey, SourceSystem, TaskRunEvent};

use crate::core::joins::{
    self, ErrorReport, JoinBatch, JoinRow, JoinRows, JoinedRun, SpanRef, WaitingRetry,
    key_proposals, span_proposals,
};
use crate::error::StoreError;

const COLUMNS: &str = "span_ref, source, task_id, attempt, task_name, is_run_span, \
     error_message, error_type, error_traceback, waiting_retry";

const UNNEST: &str = "unnest($1::bytea[], $2::text[], $3::text[], $4::int4[], $5::text[], \
     $6::bool[], $7::text[], $8::text[], $9::text[], $10::jsonb[]) \
     AS u(span_ref, source, task_id, attempt, task_name, is_run_span, error_message, error_type, \
     error_traceback, waiting_retry)";

fn lock_sql() -> String {
    format!(
        "INSERT INTO task_span_joins AS j (created_at, {COLUMNS}) \
         SELECT $11, u.span_ref, u.source::task_source, u.task_id, u.attempt, u.task_name, \
         u.is_run_span, u.error_message, u.error_type, u.error_traceback, u.waiting_retry \
         FROM {UNNEST} \
         ON CONFLICT (span_ref) DO UPDATE SET span_ref = EXCLUDED.span_ref \
         RETURNING j.span_ref, j.source::text AS source, j.task_id, j.attempt, j.task_name, \
         j.is_run_span, j.error_message, j.error_type, j.error_traceback, j.waiting_retry"
    )
}

fn update_sql() -> String {
    format!(
        "UPDATE task_span_joins AS j SET source = u.source::task_source, task_id = u.task_id, \
         attempt = u.attempt, task_name = u.task_name, is_run_span = u.is_run_span, \
         error_message = u.error_message, error_type = u.error_type, \
         error_traceback = u.error_traceback, waiting_retry = u.waiting_retry \
         FROM {UNNEST} WHERE j.span_ref = u.span_ref"
    )
}

/// Rows as the column arrays of `UNNEST`.
#[derive(Default)]
struct Columns {
    span_ref: Vec<Vec<u8>>,
    source: Vec<Option<&'static str>>,
    task_id: Vec<Option<String>>,
    attempt: Vec<Option<i32>>,
    task_name: Vec<Option<String>>,
    is_run_span: Vec<bool>,
    error_message: Vec<Option<String>>,
    error_type: Vec<Option<String>>,
    error_traceback: Vec<Option<String>>,
    waiting_retry: Vec<Option<serde_json::Value>>,
}

impl Columns {
    fn push(&mut self, span: SpanRef, row: &JoinRow) -> Result<(), StoreError> {
        self.span_ref.push(span.to_bytes());
        let run = row.run.as_ref();
        self.source.push(run.map(|r| r.key.source.as_str()));
        self.task_id.push(run.map(|r| r.key.task_id.clone()));
        self.attempt.push(run.map(|r| r.key.attempt));
        self.task_name.push(run.map(|r| r.task_name.clone()));
        self.is_run_span.push(row.is_run_span);
        let waiting = row.waiting.as_ref();
        self.error_message
            .push(waiting.and_then(|w| w.message.clone()));
        self.error_type
            .push(waiting.and_then(|w| w.error_type.clone()));
        self.error_traceback
            .push(waiting.and_then(|w| w.traceback.clone()));
        let retry = row
            .waiting_retry
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("waiting retry: {e}")))?;
        self.waiting_retry.push(retry);
        Ok(())
    }

    fn query(self, sql: &str) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(sql)
            .bind(self.span_ref)
            .bind(self.source)
            .bind(self.task_id)
            .bind(self.attempt)
            .bind(self.task_name)
            .bind(self.is_run_span)
            .bind(self.error_message)
            .bind(self.error_type)
            .bind(self.error_traceback)
            .bind(self.waiting_retry)
    }
}

fn decode(row: &sqlx::postgres::PgRow) -> Result<(SpanRef, JoinRow), StoreError> {
    let bytes: Vec<u8> = row.try_get("span_ref")?;
    let span = SpanRef::from_bytes(&bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("span_ref of {} bytes", bytes.len())))?;
    let source: Option<String> = row.try_get("source")?;
    let run = match source {
        None => None,
        Some(source) => {
            let source = source
                .parse::<SourceSystem>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let task_id: Option<String> = row.try_get("task_id")?;
            let attempt: Option<i32> = row.try_get("attempt")?;
            let task_name: Option<String> = row.try_get("task_name")?;
            Some(JoinedRun {
                key: RunKey {
                    source,
                    task_id: task_id.unwrap_or_default(),
                    attempt: attempt.unwrap_or_default(),
                },
                task_name: task_name.unwrap_or_default(),
            })
        }
    };
    let report = ErrorReport {
        message: row.try_get("error_message")?,
        error_type: row.try_get("error_type")?,
        traceback: row.try_get("error_traceback")?,
    };
    let waiting = (report != ErrorReport::default()).then_some(report);
    let retry: Option<serde_json::Value> = row.try_get("waiting_retry")?;
    let waiting_retry = retry
        .map(serde_json::from_value::<WaitingRetry>)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("waiting retry: {e}")))?;
    Ok((
        span,
        JoinRow {
            run,
            is_run_span: row.try_get("is_run_span")?,
            waiting,
            waiting_retry,
        },
    ))
}

/// Inserts the proposals of spans without a row and locks the others; returns every row, as
/// the table now holds it. Skips spans in `locked` (by the earlier phase).
async fn lock(
    proposals: &JoinRows,
    locked: &JoinRows,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<JoinRows, StoreError> {
    let mut columns = Columns::default();
    for (span, proposal) in proposals {
        if !locked.contains_key(span) {
            columns.push(*span, proposal)?;
        }
    }
    let mut rows = JoinRows::new();
    if columns.span_ref.is_empty() {
        return Ok(rows);
    }
    let sql = lock_sql();
    for row in columns.query(&sql).bind(now).fetch_all(&mut **tx).await? {
        let (span, row) = decode(&row)?;
        rows.insert(span, row);
    }
    Ok(rows)
}

/// Resolves a batch's joins in `tx`: its events, ready to merge.
pub(super) async fn resolve(
    mut batch: JoinBatch,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<Vec<TaskRunEvent>, StoreError> {
    let mut rows = lock(&key_proposals(&batch), &JoinRows::new(), now, tx).await?;
    // What the table holds, to write back only what resolution changes.
    let mut stored = rows.clone();
    joins::record_keys(&batch, &mut rows);
    joins::apply_keys(&mut batch, &rows);
    let more = lock(&span_proposals(&batch), &rows, now, tx).await?;
    stored.extend(more.clone());
    rows.extend(more);
    let outcome = joins::record_spans(&batch, &mut rows);
    let mut changed = Columns::default();
    for (span, row) in &rows {
        if stored.get(span) != Some(row) {
            changed.push(*span, row)?;
        }
    }
    if !changed.span_ref.is_empty() {
        let sql = update_sql();
        changed.query(&sql).execute(&mut **tx).await?;
    }
    Ok(joins::finish(batch, outcome))
}
