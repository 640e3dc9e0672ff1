//! The batch write on SQLite: merge events into rows and rollups, in one transaction, with the
//! same rules as the PostgreSQL write (`postgres/write.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use tasklens_model::{
    Contribution, RollupChanges, RollupDelta, RollupKey, RuleViolation, RunState, TaskRunEvent,
};
use uuid::Uuid;

use super::rows::{RUN_COLUMNS, histogram, histogram_text, micros, stored_run};
use crate::error::StoreError;
use crate::live::{LiveEvent, LocalLiveHub};
use crate::types::{RunChange, StoredRun, WriteOutcome};

/// A batch's events merged per run (keyed by the run key's digest, so runs are handled in the
/// same order as on PostgreSQL), with the earliest time one was observed; and the events refused.
type Incoming = BTreeMap<Uuid, (RunState, DateTime<Utc>)>;

/// Validates and caps each event (a refused event is reported alone), then merges the batch's
/// own events per run. Pure.
fn merge_incoming(events: Vec<TaskRunEvent>) -> (Incoming, Vec<RuleViolation>) {
    let mut rejected = Vec::new();
    let mut incoming = Incoming::new();
    for event in events {
        let event = match event.prepare() {
            Ok(event) => event,
            Err(violation) => {
                rejected.push(violation);
                continue;
            }
        };
        let digest = event.run.key().digest();
        let merged = match incoming.remove(&digest) {
            Some((state, seen)) => (state.merge(event.run), seen.min(event.observed_at)),
            None => (event.run, event.observed_at),
        };
        incoming.insert(digest, merged);
    }
    (incoming, rejected)
}

const INSERT_SQL: &str = "\
INSERT INTO task_execution_logs (created_at, updated_at, enqueued_at, started_at, completed_at,
    duration_ms, queue_wait_ms, attempt, status, source, task_name, task_id, trace_id, span_id,
    queue, service_name, worker_host, error_type, params, error_message, error_traceback)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
    ?20, ?21)
RETURNING id";

const UPDATE_SQL: &str = "\
UPDATE task_execution_logs SET updated_at = ?2, enqueued_at = ?3, started_at = ?4,
    completed_at = ?5, duration_ms = ?6, queue_wait_ms = ?7, status = ?9, task_name = ?11,
    trace_id = ?13, span_id = ?14, queue = ?15, service_name = ?16, worker_host = ?17,
    error_type = ?18, params = ?19, error_message = ?20, error_traceback = ?21
WHERE id = ?22";

const ROLLUP_READ_SQL: &str = "\
SELECT pending, running, success, failed, duration_count, duration_sum_ms, duration_hist,
    wait_count, wait_sum_ms, wait_hist
FROM task_rollups WHERE granularity = ?1 AND bucket = ?2 AND task_name = ?3";

const ROLLUP_WRITE_SQL: &str = "\
INSERT INTO task_rollups (granularity, bucket, task_name, pending, running, success, failed,
    duration_count, duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (granularity, bucket, task_name) DO UPDATE SET
    pending = excluded.pending, running = excluded.running, success = excluded.success,
    failed = excluded.failed, duration_count = excluded.duration_count,
    duration_sum_ms = excluded.duration_sum_ms, duration_hist = excluded.duration_hist,
    wait_count = excluded.wait_count, wait_sum_ms = excluded.wait_sum_ms,
    wait_hist = excluded.wait_hist";

/// Binds a run's columns in the order of `INSERT_SQL` (?1..?21); `UPDATE_SQL` uses the same
/// numbers and adds the id as ?22.
fn bind_run<'q>(
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    run: &'q StoredRun,
) -> Result<sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>, StoreError> {
    let s = &run.state;
    let params = s
        .params
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("params: {e}")))?;
    Ok(query
        .bind(micros(run.created_at))
        .bind(micros(run.updated_at))
        .bind(s.enqueued_at.map(micros))
        .bind(s.started_at.map(micros))
        .bind(s.completed_at.map(micros))
        .bind(s.duration_ms())
        .bind(s.queue_wait_ms())
        .bind(s.attempt)
        .bind(s.status.as_str())
        .bind(s.source.as_str())
        .bind(s.task_name.as_str())
        .bind(s.task_id.as_str())
        .bind(s.trace_id.map(|t| t.to_vec()))
        .bind(s.span_id.map(|t| t.to_vec()))
        .bind(s.queue.as_deref())
        .bind(s.service_name.as_deref())
        .bind(s.worker_host.as_deref())
        .bind(s.error_type.as_deref())
        .bind(params)
        .bind(s.error_message.as_deref())
        .bind(s.error_traceback.as_deref()))
}

/// Adds each change to its rollup row. SQLite has no element-wise array sum, so each row is read
/// and written back; only this transaction writes (one writer), so nothing changes in between.
async fn apply_rollups(
    changes: Vec<(RollupKey, RollupDelta)>,
    tx: &mut Transaction<'_, Sqlite>,
) -> Result<(), StoreError> {
    for (key, delta) in changes {
        let bucket = micros(key.bucket);
        let existing = sqlx::query(ROLLUP_READ_SQL)
            .bind(key.granularity.as_str())
            .bind(bucket)
            .bind(key.task_name.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        let mut figures = match existing {
            Some(row) => RollupDelta {
                status_counts: [
                    row.try_get("pending")?,
                    row.try_get("running")?,
                    row.try_get("success")?,
                    row.try_get("failed")?,
                ],
                duration_count: row.try_get("duration_count")?,
                duration_sum_ms: row.try_get("duration_sum_ms")?,
                duration_hist: histogram(row.try_get("duration_hist")?)?,
                wait_count: row.try_get("wait_count")?,
                wait_sum_ms: row.try_get("wait_sum_ms")?,
                wait_hist: histogram(row.try_get("wait_hist")?)?,
            },
            None => RollupDelta::default(),
        };
        figures.add(&delta);
        let [pending, running, success, failed] = figures.status_counts;
        sqlx::query(ROLLUP_WRITE_SQL)
            .bind(key.granularity.as_str())
            .bind(bucket)
            .bind(key.task_name.as_str())
            .bind(pending)
            .bind(running)
            .bind(success)
            .bind(failed)
            .bind(figures.duration_count)
            .bind(figures.duration_sum_ms)
            .bind(histogram_text(&figures.duration_hist))
            .bind(figures.wait_count)
            .bind(figures.wait_sum_ms)
            .bind(histogram_text(&figures.wait_hist))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes the merged runs and their rollups in `tx`; returns what changed.
async fn write_runs(
    incoming: Incoming,
    tx: &mut Transaction<'_, Sqlite>,
) -> Result<Vec<RunChange>, StoreError> {
    let now = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let select_existing = format!(
        "SELECT {RUN_COLUMNS} FROM task_execution_logs \
         WHERE source = ?1 AND task_id = ?2 AND attempt = ?3"
    );
    let mut rollups = RollupChanges::default();
    let mut changed = Vec::new();
    for (state, first_seen) in incoming.into_values() {
        let before = sqlx::query(&select_existing)
            .bind(state.source.as_str())
            .bind(state.task_id.as_str())
            .bind(state.attempt)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| stored_run(&row))
            .transpose()?;
        let merged = match &before {
            Some(before) => before.state.clone().merge(state),
            None => state,
        };
        if before.as_ref().is_some_and(|b| b.state == merged) {
            continue; // a duplicate: nothing new
        }
        let mut run = StoredRun {
            id: before.as_ref().map_or(0, |b| b.id),
            created_at: before.as_ref().map_or(first_seen, |b| b.created_at),
            updated_at: now,
            state: merged,
        };
        match &before {
            Some(_) => {
                bind_run(sqlx::query(UPDATE_SQL), &run)?
                    .bind(run.id)
                    .execute(&mut **tx)
                    .await?;
            }
            None => {
                let id: i64 = bind_run(sqlx::query(INSERT_SQL), &run)?
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get("id")?;
                run.id = id;
            }
        }
        let before_contribution = before.as_ref().map(|b| Contribution::of(&b.state));
        rollups.record(
            run.created_at,
            before_contribution.as_ref(),
            &Contribution::of(&run.state),
        );
        changed.push(RunChange {
            run,
            previous_status: before.map(|b| b.state.status),
        });
    }
    apply_rollups(rollups.into_changes(), tx).await?;
    Ok(changed)
}

/// One batch in one transaction. The caller holds the writer lock for the whole call, so live
/// events go out in commit order, and only after the commit.
pub(super) async fn write_batch(
    pool: &SqlitePool,
    live: &LocalLiveHub,
    events: Vec<TaskRunEvent>,
) -> Result<WriteOutcome, StoreError> {
    let (incoming, rejected) = merge_incoming(events);
    if incoming.is_empty() {
        return Ok(WriteOutcome {
            changed: Vec::new(),
            rejected,
        });
    }
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    // On error the transaction is dropped, which rolls it back: nothing is published.
    let changed = write_runs(incoming, &mut tx).await?;
    tx.commit().await?;
    live.publish(changed.iter().map(LiveEvent::of).collect());
    tracing::debug!(
        runs = changed.len(),
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "batch written"
    );
    Ok(WriteOutcome { changed, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasklens_model::{RunKey, SourceSystem, TaskStatus};

    fn event(task_id: &str, status: TaskStatus, at: DateTime<Utc>) -> TaskRunEvent {
        let key = RunKey {
            source: SourceSystem::Celery,
            task_id: task_id.into(),
            attempt: 0,
        };
        TaskRunEvent {
            observed_at: at,
            run: RunState {
                started_at: Some(at),
                ..RunState::new(key, "score_message", status)
            },
        }
    }

    #[test]
    fn a_batch_is_merged_per_run_and_keeps_the_first_sighting() {
        let t0 = DateTime::from_timestamp_micros(1_000_000).expect("valid");
        let t1 = t0 + TimeDelta::seconds(1);
        let bad = TaskRunEvent {
            run: RunState {
                started_at: None,
                ..event("c", TaskStatus::Running, t0).run
            },
            ..event("c", TaskStatus::Running, t0)
        };
        let (incoming, rejected) = merge_incoming(vec![
            event("a", TaskStatus::Running, t1),
            event("b", TaskStatus::Running, t0),
            event("a", TaskStatus::Running, t0),
            bad,
        ]);
        assert_eq!(incoming.len(), 2);
        assert_eq!(rejected.len(), 1);
        let (state, seen) = incoming
            .values()
            .find(|(s, _)| s.task_id == "a")
            .expect("run a");
        assert_eq!(*seen, t0);
        assert_eq!(state.started_at, Some(t0), "the earliest start is kept");
    }
}
