//! The batch write: merge events into rows and rollups, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::copy::{COPY_RUNS, CopyBuffer, encode_run};
use super::groups::{add_to_groups, group_ids};
use super::live::notify;
use super::rollups::apply_rollups;
use super::rows::Pg;
use tasklens_model::RuleViolation;

use crate::core::batch::{Incoming, batch_time, merge_incoming, plan_batch};
use crate::core::joins::JoinBatch;
use crate::error::StoreError;
use crate::runs::{RunChange, StoredRun};
use crate::sql::{Dialect, codec};

/// Finds or creates each run's identity. `DO UPDATE` (not `DO NOTHING`) so that existing keys
/// are returned too, and locked until commit: concurrent writers of one run take turns. Keys
/// arrive sorted, so two batches lock shared keys in the same order and cannot deadlock.
const IDENTITY_SQL: &str = "\
INSERT INTO task_run_keys AS k (run_key, id, created_at)
SELECT key, nextval('task_execution_logs_id_seq'), first_seen
FROM unnest($1::uuid[], $2::timestamptz[]) AS u(key, first_seen)
ON CONFLICT (run_key) DO UPDATE SET run_key = EXCLUDED.run_key
RETURNING k.run_key, k.id, k.created_at, (k.xmax = 0) AS inserted";

const UNNEST_RUNS: &str = "unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], \
     $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], $7::int8[], $8::int8[], \
     $9::int4[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bytea[], $15::bytea[], \
     $16::text[], $17::text[], $18::text[], $19::text[], $20::jsonb[], $21::text[], $22::text[], \
     $23::int8[], $24::bool[], $27::text[]) \
     AS u(id, created_at, updated_at, enqueued_at, started_at, completed_at, duration_ms, \
     queue_wait_ms, attempt, status, source, task_name, task_id, trace_id, span_id, queue, \
     service_name, worker_host, error_type, params, error_message, error_traceback, \
     error_group_id, set_group, environment)";

fn update_sql() -> String {
    format!(
        "UPDATE task_execution_logs AS t SET updated_at = u.updated_at, \
         enqueued_at = u.enqueued_at, started_at = u.started_at, completed_at = u.completed_at, \
         duration_ms = u.duration_ms, queue_wait_ms = u.queue_wait_ms, \
         status = u.status::task_status, task_name = u.task_name, trace_id = u.trace_id, \
         span_id = u.span_id, queue = u.queue, service_name = u.service_name, \
         environment = u.environment, worker_host = u.worker_host, error_type = u.error_type, params = u.params, \
         error_message = u.error_message, error_traceback = u.error_traceback, \
         error_group_id = CASE WHEN u.set_group THEN u.error_group_id ELSE t.error_group_id END \
         FROM {UNNEST_RUNS} \
         WHERE t.id = u.id AND t.created_at = u.created_at \
         AND t.created_at >= $25 AND t.created_at <= $26"
    )
}

/// Column-wise arrays of runs, bound to `UNNEST_RUNS`.
#[derive(Default)]
struct RunColumns {
    id: Vec<i64>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    enqueued_at: Vec<Option<DateTime<Utc>>>,
    started_at: Vec<Option<DateTime<Utc>>>,
    completed_at: Vec<Option<DateTime<Utc>>>,
    duration_ms: Vec<Option<i64>>,
    queue_wait_ms: Vec<Option<i64>>,
    attempt: Vec<i32>,
    status: Vec<&'static str>,
    source: Vec<&'static str>,
    task_name: Vec<String>,
    task_id: Vec<String>,
    trace_id: Vec<Option<Vec<u8>>>,
    span_id: Vec<Option<Vec<u8>>>,
    queue: Vec<Option<String>>,
    service_name: Vec<Option<String>>,
    environment: Vec<Option<String>>,
    worker_host: Vec<Option<String>>,
    error_type: Vec<Option<String>>,
    params: Vec<Option<Value>>,
    error_message: Vec<Option<String>>,
    error_traceback: Vec<Option<String>>,
    error_group_id: Vec<Option<i64>>,
    set_group: Vec<bool>,
}

impl RunColumns {
    /// Adds a run; `group`: its row's new error group, `None` to leave it.
    fn push(&mut self, run: &StoredRun, group: Option<Option<i64>>) {
        let s = &run.state;
        self.id.push(run.id);
        self.created_at.push(run.created_at);
        self.updated_at.push(run.updated_at);
        self.enqueued_at.push(s.enqueued_at);
        self.started_at.push(s.started_at);
        self.completed_at.push(s.completed_at);
        self.duration_ms.push(s.duration_ms());
        self.queue_wait_ms.push(s.queue_wait_ms());
        self.attempt.push(s.attempt);
        self.status.push(s.status.as_str());
        self.source.push(s.source.as_str());
        self.task_name.push(s.task_name.clone());
        self.task_id.push(s.task_id.clone());
        self.trace_id.push(s.trace_id.map(|t| t.to_vec()));
        self.span_id.push(s.span_id.map(|t| t.to_vec()));
        self.queue.push(s.queue.clone());
        self.service_name.push(s.service_name.clone());
        self.environment.push(s.environment.clone());
        self.worker_host.push(s.worker_host.clone());
        self.error_type.push(s.error_type.clone());
        self.params.push(s.params.clone());
        self.error_message.push(s.error_message.clone());
        self.error_traceback.push(s.error_traceback.clone());
        self.error_group_id.push(group.flatten());
        self.set_group.push(group.is_some());
    }

    fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// Runs `sql` over these rows, with `$25`/`$26` bound to the earliest and latest
    /// `created_at` so that the statement skips the other partitions (`$27`, the environment,
    /// was added after them).
    async fn execute(
        self,
        sql: &str,
        tx: &mut Transaction<'_, Postgres>,
    ) -> Result<u64, StoreError> {
        let (low, high) = bounds(&self.created_at);
        let query = sqlx::query(sql)
            .bind(self.id)
            .bind(self.created_at)
            .bind(self.updated_at)
            .bind(self.enqueued_at)
            .bind(self.started_at)
            .bind(self.completed_at)
            .bind(self.duration_ms)
            .bind(self.queue_wait_ms)
            .bind(self.attempt)
            .bind(self.status)
            .bind(self.source)
            .bind(self.task_name)
            .bind(self.task_id)
            .bind(self.trace_id)
            .bind(self.span_id)
            .bind(self.queue)
            .bind(self.service_name)
            .bind(self.worker_host)
            .bind(self.error_type)
            .bind(self.params)
            .bind(self.error_message)
            .bind(self.error_traceback)
            .bind(self.error_group_id)
            .bind(self.set_group);
        Ok(query
            .bind(low)
            .bind(high)
            .bind(self.environment)
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }
}

/// The earliest and latest of some timestamps (bounds that let PostgreSQL skip partitions).
fn bounds(times: &[DateTime<Utc>]) -> (DateTime<Utc>, DateTime<Utc>) {
    let low = times.iter().min().copied().unwrap_or_default();
    let high = times.iter().max().copied().unwrap_or_default();
    (low, high)
}

/// Durations of the steps of one batch, for the debug log (where a slow batch spends its time).
struct StepTimer {
    last: std::time::Instant,
    steps: Vec<(&'static str, std::time::Duration)>,
}

impl StepTimer {
    fn new() -> Self {
        StepTimer {
            last: std::time::Instant::now(),
            steps: Vec::with_capacity(8),
        }
    }

    fn step(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.steps.push((name, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for StepTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, took) in &self.steps {
            write!(f, "{name}={:.1}ms ", took.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

struct Identity {
    id: i64,
    created_at: DateTime<Utc>,
    inserted: bool,
}

/// Writes a batch in one transaction: its joins resolved first (`joins.rs`), then its events
/// merged and written. Returns the changes and the events refused.
pub(super) async fn write_runs(
    pool: &PgPool,
    batch: JoinBatch,
) -> Result<(Vec<RunChange>, Vec<RuleViolation>), StoreError> {
    let mut timer = StepTimer::new();
    if !batch.has_joins() {
        let (incoming, rejected) = merge_incoming(batch.events);
        if incoming.is_empty() {
            return Ok((Vec::new(), rejected));
        }
        let tx = pool.begin().await?;
        return Ok((write_incoming(tx, incoming, timer).await?, rejected));
    }
    let mut tx = pool.begin().await?;
    let events = super::joins::resolve(batch, batch_time(), &mut tx).await?;
    timer.step("joins");
    let (incoming, rejected) = merge_incoming(events);
    if incoming.is_empty() {
        tx.commit().await?;
        return Ok((Vec::new(), rejected));
    }
    Ok((write_incoming(tx, incoming, timer).await?, rejected))
}

async fn write_incoming(
    mut tx: Transaction<'_, Postgres>,
    incoming: Incoming,
    mut timer: StepTimer,
) -> Result<Vec<RunChange>, StoreError> {
    let keys: Vec<Uuid> = incoming.keys().copied().collect();
    let first_seen: Vec<DateTime<Utc>> = incoming.values().map(|(_, seen)| *seen).collect();
    let mut identities = HashMap::with_capacity(keys.len());
    for row in sqlx::query(IDENTITY_SQL)
        .bind(&keys)
        .bind(&first_seen)
        .fetch_all(&mut *tx)
        .await?
    {
        let key: Uuid = row.try_get("run_key")?;
        identities.insert(
            key,
            Identity {
                id: row.try_get("id")?,
                created_at: row.try_get("created_at")?,
                inserted: row.try_get("inserted")?,
            },
        );
    }

    timer.step("identity");
    let existing_ids: HashMap<i64, Uuid> = identities
        .iter()
        .filter(|(_, identity)| !identity.inserted)
        .map(|(key, identity)| (identity.id, *key))
        .collect();
    let mut existing: HashMap<Uuid, StoredRun> = HashMap::with_capacity(existing_ids.len());
    if !existing_ids.is_empty() {
        let ids: Vec<i64> = existing_ids.keys().copied().collect();
        let created: Vec<DateTime<Utc>> = identities
            .values()
            .filter(|identity| !identity.inserted)
            .map(|identity| identity.created_at)
            .collect();
        let (low, high) = bounds(&created);
        let sql = format!(
            "SELECT {} FROM task_execution_logs \
             WHERE id = ANY($1) AND created_at >= $2 AND created_at <= $3",
            Pg::RUN_COLUMNS
        );
        for row in sqlx::query(&sql)
            .bind(&ids)
            .bind(low)
            .bind(high)
            .fetch_all(&mut *tx)
            .await?
        {
            let run = codec::stored_run::<Pg>(&row)?;
            if let Some(key) = existing_ids.get(&run.id) {
                existing.insert(*key, run);
            }
        }
    }

    timer.step("read");
    let now = batch_time();
    // A run whose key survives but whose row expired is written again as new, under its key's
    // id and creation time.
    let plan = plan_batch(
        incoming,
        existing,
        |digest, _| {
            identities
                .get(digest)
                .map(|identity| (identity.id, identity.created_at))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("no identity returned for run key {digest}"))
                })
        },
        now,
    )?;
    timer.step("merge");
    // The groups first: the rows are written with their group's id.
    let group_ids = group_ids(&plan.groups, now, &mut tx).await?;
    let row_groups = plan.groups.row_groups(&group_ids, plan.changes.len())?;
    timer.step("groups");
    // New runs go in by binary COPY, changed runs by one UPDATE over arrays.
    let mut inserts = CopyBuffer::new();
    let mut inserted = 0usize;
    let mut updates = RunColumns::default();
    for (change, group) in plan.changes.iter().zip(row_groups) {
        if change.previous_status.is_none() {
            encode_run(&mut inserts, &change.run, group.flatten());
            inserted += 1;
        } else {
            updates.push(&change.run, group);
        }
    }
    if inserted > 0 {
        let mut copy = tx.copy_in_raw(COPY_RUNS).await?;
        copy.send(inserts.finish()).await?;
        copy.finish().await?;
    }
    timer.step("insert");
    if !updates.is_empty() {
        updates.execute(&update_sql(), &mut tx).await?;
    }
    timer.step("update");
    notify(&plan.changes, plan.groups.new_groups(&group_ids), &mut tx).await?;
    timer.step("notify");
    add_to_groups(&plan.groups, &group_ids, now, &mut tx).await?;
    timer.step("group figures");
    // Last before the commit: the lane's rows stay locked for as short a time as possible.
    apply_rollups(plan.rollups, &mut tx).await?;
    timer.step("rollups");
    tx.commit().await?;
    timer.step("commit");
    tracing::debug!(runs = plan.changes.len(), steps = %timer, "batch written");
    Ok(plan.changes)
}
