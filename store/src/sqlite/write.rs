//! The batch write on SQLite: merge events into rows and rollups, in one transaction, with the
//! same rules as the PostgreSQL write (`postgres/write.rs`).

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use tasklens_model::{RollupFigures, RollupKey, RunKey, SourceSystem, TaskType};
use uuid::Uuid;

use super::groups::write_groups;
use super::rows::{Lite, histogram_text, micros, params_text};
use crate::core::batch::{Incoming, batch_time, plan_batch};
use crate::error::StoreError;
use crate::live::{LocalLiveHub, NewErrorGroup, events_of};
use crate::runs::{RunChange, StoredRun};
use crate::sql::{Dialect, codec};

/// A run's columns as the JSON array the statements below read (`value ->> i`): timestamps in
/// microseconds, ids as hex, params as JSON text.
const RUN_FIELDS: &str = "value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
     value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, \
     unhex(value ->> 12), unhex(value ->> 13), value ->> 14, value ->> 15, value ->> 16, \
     value ->> 17, value ->> 18, value ->> 19, value ->> 20, value ->> 22";

/// Inserts every new run of a batch in one statement (`WHERE true` tells SQLite's parser that
/// no upsert clause follows).
fn insert_sql() -> String {
    format!(
        "INSERT INTO task_execution_logs (created_at, updated_at, enqueued_at, started_at, \
         completed_at, duration_ms, queue_wait_ms, attempt, status, source, task_name, task_id, \
         trace_id, span_id, queue, service_name, worker_host, error_type, params, error_message, \
         error_traceback, environment) \
         SELECT {RUN_FIELDS} FROM json_each(?1) WHERE true \
         RETURNING id, source, task_id, attempt"
    )
}

/// Updates every changed run of a batch in one statement; element 21 is the id.
const UPDATE_SQL: &str = "\
UPDATE task_execution_logs AS t SET updated_at = u.value ->> 1, enqueued_at = u.value ->> 2,
    started_at = u.value ->> 3, completed_at = u.value ->> 4, duration_ms = u.value ->> 5,
    queue_wait_ms = u.value ->> 6, status = u.value ->> 8, task_name = u.value ->> 10,
    trace_id = unhex(u.value ->> 12), span_id = unhex(u.value ->> 13), queue = u.value ->> 14,
    service_name = u.value ->> 15, worker_host = u.value ->> 16, error_type = u.value ->> 17,
    params = u.value ->> 18, error_message = u.value ->> 19, error_traceback = u.value ->> 20,
    environment = u.value ->> 22
FROM json_each(?1) AS u WHERE t.id = u.value ->> 21";

/// The existing rollup rows of a batch's changes, keys passed as one JSON array of
/// `[granularity, bucket, task_name, service, environment]` (one statement instead of one per
/// row).
const ROLLUP_READ_SQL: &str = "\
SELECT granularity, bucket, task_name, service, environment, pending, running, success, failed,
    duration_count, duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist
FROM task_rollups WHERE (granularity, bucket, task_name, service, environment) IN
    (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?1))";

/// Writes the new figures of every changed rollup row in one statement (`WHERE true`: see
/// `insert_sql`).
const ROLLUP_WRITE_SQL: &str = "\
INSERT INTO task_rollups (granularity, bucket, task_name, service, environment, pending, running,
    success, failed, duration_count, duration_sum_ms, duration_hist, wait_count, wait_sum_ms,
    wait_hist)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
    value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12,
    value ->> 13, value ->> 14
FROM json_each(?1) WHERE true
ON CONFLICT (granularity, bucket, task_name, service, environment) DO UPDATE SET
    pending = excluded.pending, running = excluded.running, success = excluded.success,
    failed = excluded.failed, duration_count = excluded.duration_count,
    duration_sum_ms = excluded.duration_sum_ms, duration_hist = excluded.duration_hist,
    wait_count = excluded.wait_count, wait_sum_ms = excluded.wait_sum_ms,
    wait_hist = excluded.wait_hist";

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// A run as the JSON array of `RUN_FIELDS`, with its id at 21 and its environment after it
/// (added later, so the other positions kept their numbers).
fn run_fields(run: &StoredRun) -> Result<Value, StoreError> {
    let s = &run.state;
    let params = s.params.as_ref().map(params_text).transpose()?;
    Ok(json!([
        micros(run.created_at),
        micros(run.updated_at),
        s.enqueued_at.map(micros),
        s.started_at.map(micros),
        s.completed_at.map(micros),
        s.duration_ms(),
        s.queue_wait_ms(),
        s.attempt,
        s.status.as_str(),
        s.source.as_str(),
        s.task_name,
        s.task_id,
        s.trace_id.map(|t| hex(&t)),
        s.span_id.map(|t| hex(&t)),
        s.queue,
        s.service_name,
        s.worker_host,
        s.error_type,
        params,
        s.error_message,
        s.error_traceback,
        run.id,
        s.environment,
    ]))
}

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("cannot encode keys: {e}"))
}

/// Adds each change to its rollup row. SQLite has no element-wise array sum, so the rows are
/// read, added to in Rust and written back; only this transaction writes (one writer), so
/// nothing changes in between.
pub(super) async fn apply_rollups(
    changes: Vec<(RollupKey, RollupFigures)>,
    tx: &mut Transaction<'_, Sqlite>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let keys: Vec<(&str, i64, &str, &str, &str)> = changes
        .iter()
        .map(|(key, _)| {
            (
                key.granularity.as_str(),
                micros(key.bucket),
                key.task_type.task_name.as_str(),
                key.task_type.service.as_str(),
                key.task_type.environment.as_str(),
            )
        })
        .collect();
    let mut existing: HashMap<(String, i64, TaskType), RollupFigures> = HashMap::new();
    for row in sqlx::query(ROLLUP_READ_SQL)
        .bind(serde_json::to_string(&keys).map_err(json_error)?)
        .fetch_all(&mut **tx)
        .await?
    {
        let figures = codec::rollup_figures::<Lite>(&row)?;
        existing.insert(
            (
                row.try_get("granularity")?,
                row.try_get("bucket")?,
                codec::task_type::<Lite>(&row)?,
            ),
            figures,
        );
    }
    let mut rows = Vec::with_capacity(changes.len());
    for (key, delta) in changes {
        let bucket = micros(key.bucket);
        let mut figures = existing
            .remove(&(
                key.granularity.as_str().to_owned(),
                bucket,
                key.task_type.clone(),
            ))
            .unwrap_or_default();
        figures.add(&delta);
        let [pending, running, success, failed] = figures.status_counts;
        rows.push(json!([
            key.granularity.as_str(),
            bucket,
            key.task_type.task_name,
            key.task_type.service,
            key.task_type.environment,
            pending,
            running,
            success,
            failed,
            figures.duration_count,
            figures.duration_sum_ms,
            histogram_text(&figures.duration_hist),
            figures.wait_count,
            figures.wait_sum_ms,
            histogram_text(&figures.wait_hist),
        ]));
    }
    sqlx::query(ROLLUP_WRITE_SQL)
        .bind(Value::Array(rows).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The rows the batch's runs already have, by run key digest: one statement, keys passed as one
/// JSON array of `[source, task_id, attempt]`, looked up through the run identity index.
async fn existing_runs(
    incoming: &Incoming,
    tx: &mut Transaction<'_, Sqlite>,
) -> Result<HashMap<Uuid, StoredRun>, StoreError> {
    let keys: Vec<(&str, &str, i32)> = incoming
        .values()
        .map(|(state, _)| (state.source.as_str(), state.task_id.as_str(), state.attempt))
        .collect();
    let sql = format!(
        "SELECT {} FROM task_execution_logs WHERE (source, task_id, attempt) IN \
         (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1))",
        Lite::RUN_COLUMNS
    );
    let mut existing = HashMap::with_capacity(keys.len());
    for row in sqlx::query(&sql)
        .bind(serde_json::to_string(&keys).map_err(json_error)?)
        .fetch_all(&mut **tx)
        .await?
    {
        let run = codec::stored_run::<Lite>(&row)?;
        existing.insert(run.state.key().digest(), run);
    }
    Ok(existing)
}

/// Writes the merged runs and their rollups in `tx`; returns what changed.
async fn write_in(
    incoming: Incoming,
    tx: &mut Transaction<'_, Sqlite>,
) -> Result<(Vec<RunChange>, Vec<(usize, NewErrorGroup)>), StoreError> {
    let existing = existing_runs(&incoming, tx).await?;
    let now = batch_time();
    // A new run's id comes back from its insert; it was first seen when the batch says.
    let plan = plan_batch(incoming, existing, |_, first_seen| Ok((0, first_seen)), now)?;
    let inserts = plan
        .inserts()
        .map(run_fields)
        .collect::<Result<Vec<_>, _>>()?;
    let updates = plan
        .updates()
        .map(run_fields)
        .collect::<Result<Vec<_>, _>>()?;
    let mut changed = plan.changes;
    if !updates.is_empty() {
        sqlx::query(UPDATE_SQL)
            .bind(Value::Array(updates).to_string())
            .execute(&mut **tx)
            .await?;
    }
    if !inserts.is_empty() {
        let mut ids = HashMap::with_capacity(inserts.len());
        for row in sqlx::query(&insert_sql())
            .bind(Value::Array(inserts).to_string())
            .fetch_all(&mut **tx)
            .await?
        {
            let source: String = row.try_get("source")?;
            let key = RunKey {
                source: source
                    .parse::<SourceSystem>()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                task_id: row.try_get("task_id")?,
                attempt: row.try_get("attempt")?,
            };
            ids.insert(key, row.try_get::<i64, _>("id")?);
        }
        for change in changed.iter_mut().filter(|c| c.previous_status.is_none()) {
            change.run.id = *ids.get(&change.run.state.key()).ok_or_else(|| {
                StoreError::Corrupt(format!("no id returned for run {}", change.run.state.key()))
            })?;
        }
    }
    let new_groups = write_groups(&changed, &plan.groups, now, tx).await?;
    apply_rollups(plan.rollups, tx).await?;
    Ok((changed, new_groups))
}

/// A batch's runs in one transaction. The caller holds the writer lock for the whole call, so live
/// events go out in commit order, and only after the commit.
pub(super) async fn write_runs(
    pool: &SqlitePool,
    live: &LocalLiveHub,
    incoming: Incoming,
) -> Result<Vec<RunChange>, StoreError> {
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    let (changed, new_groups) = match write_in(incoming, &mut tx).await {
        Ok(written) => written,
        Err(err) => {
            // Roll back now, while the writer lock is held: a dropped transaction only queues
            // its rollback, and its connection would keep the file's write lock until reused,
            // so the next batch would find the database locked. Nothing is published.
            let _ = tx.rollback().await;
            return Err(err);
        }
    };
    tx.commit().await?;
    live.publish(events_of(&changed, new_groups));
    tracing::debug!(
        runs = changed.len(),
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "batch written"
    );
    Ok(changed)
}
