//! The batch write: merge events into rows and rollups, in one transaction.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Row, Transaction};
use tasklens_model::{Contribution, RollupChanges, RollupDelta, RollupKey, TaskRunEvent};
use uuid::Uuid;

use super::bulk::{COPY_RUNS, CopyBuffer, encode_run};
use super::rows::{RUN_COLUMNS, stored_run};
use crate::error::StoreError;
use crate::incoming::merge_incoming;
use crate::live::{self, LIVE_CHANNEL, LiveEvent};
use crate::types::{RunChange, StoredRun, WriteOutcome};

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
     $16::text[], $17::text[], $18::text[], $19::text[], $20::jsonb[], $21::text[], $22::text[]) \
     AS u(id, created_at, updated_at, enqueued_at, started_at, completed_at, duration_ms, \
     queue_wait_ms, attempt, status, source, task_name, task_id, trace_id, span_id, queue, \
     service_name, worker_host, error_type, params, error_message, error_traceback)";

fn update_sql() -> String {
    format!(
        "UPDATE task_execution_logs AS t SET updated_at = u.updated_at, \
         enqueued_at = u.enqueued_at, started_at = u.started_at, completed_at = u.completed_at, \
         duration_ms = u.duration_ms, queue_wait_ms = u.queue_wait_ms, \
         status = u.status::task_status, task_name = u.task_name, trace_id = u.trace_id, \
         span_id = u.span_id, queue = u.queue, service_name = u.service_name, \
         worker_host = u.worker_host, error_type = u.error_type, params = u.params, \
         error_message = u.error_message, error_traceback = u.error_traceback \
         FROM {UNNEST_RUNS} \
         WHERE t.id = u.id AND t.created_at = u.created_at \
         AND t.created_at >= $23 AND t.created_at <= $24"
    )
}

/// The class (first key) of the transaction-scoped advisory locks that pick a rollup lane
/// ("tlrl" in ASCII). Maintenance's session lock uses the one-key form, a separate key space.
const ROLLUP_LANE_LOCK_CLASS: i32 = 0x746c_726c;

/// How many lanes a transaction tries before it shares lane 0 (and waits for its rows).
const ROLLUP_LANES: i32 = 64;

/// Adds a batch's rollup deltas to the rows of one lane: the first lane whose advisory lock
/// this transaction gets, held until it ends, so no two writing transactions share a lane's
/// rows and neither waits for the other's commit. Readers sum the lanes of a bucket.
const ROLLUP_SQL: &str = "\
WITH lane AS MATERIALIZED (
    SELECT coalesce((SELECT l FROM generate_series(0, $15 - 1) AS l
                     WHERE pg_try_advisory_xact_lock($14, l) LIMIT 1), 0)::smallint AS lane
)
INSERT INTO task_rollups AS r (granularity, bucket, task_name, lane, pending, running, success,
    failed, duration_count, duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist)
SELECT g::rollup_granularity, b, n, lane.lane, p, ru, s, f, dc, ds, dh::bigint[], wc, ws,
    wh::bigint[]
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::int8[], $6::int8[],
    $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::int8[], $12::int8[], $13::text[])
    AS u(g, b, n, p, ru, s, f, dc, ds, dh, wc, ws, wh), lane
ON CONFLICT (granularity, bucket, task_name, lane) DO UPDATE SET
    pending = r.pending + EXCLUDED.pending,
    running = r.running + EXCLUDED.running,
    success = r.success + EXCLUDED.success,
    failed = r.failed + EXCLUDED.failed,
    duration_count = r.duration_count + EXCLUDED.duration_count,
    duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms,
    duration_hist = tasklens_hist_add(r.duration_hist, EXCLUDED.duration_hist),
    wait_count = r.wait_count + EXCLUDED.wait_count,
    wait_sum_ms = r.wait_sum_ms + EXCLUDED.wait_sum_ms,
    wait_hist = tasklens_hist_add(r.wait_hist, EXCLUDED.wait_hist)";

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
    worker_host: Vec<Option<String>>,
    error_type: Vec<Option<String>>,
    params: Vec<Option<Value>>,
    error_message: Vec<Option<String>>,
    error_traceback: Vec<Option<String>>,
}

impl RunColumns {
    fn push(&mut self, run: &StoredRun) {
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
        self.worker_host.push(s.worker_host.clone());
        self.error_type.push(s.error_type.clone());
        self.params.push(s.params.clone());
        self.error_message.push(s.error_message.clone());
        self.error_traceback.push(s.error_traceback.clone());
    }

    fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// Runs `sql` over these rows, with `$23`/`$24` bound to the earliest and latest
    /// `created_at` so that the statement skips the other partitions.
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
            .bind(self.error_traceback);
        Ok(query
            .bind(low)
            .bind(high)
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

/// `{1,0,-2}`: a histogram as a PostgreSQL array literal (bound as text, cast in SQL).
fn array_literal(counts: &[i64]) -> String {
    let mut out = String::with_capacity(counts.len() * 3 + 2);
    out.push('{');
    for (i, count) in counts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{count}");
    }
    out.push('}');
    out
}

pub(super) async fn apply_rollups(
    changes: Vec<(RollupKey, RollupDelta)>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let n = changes.len();
    let (mut g, mut b, mut name) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut counts: [Vec<i64>; 4] = Default::default();
    let (mut dc, mut ds, mut dh) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut wc, mut ws, mut wh) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (key, delta) in changes {
        g.push(key.granularity.as_str());
        b.push(key.bucket);
        name.push(key.task_name);
        for (column, count) in counts.iter_mut().zip(delta.status_counts) {
            column.push(count);
        }
        dc.push(delta.duration_count);
        ds.push(delta.duration_sum_ms);
        dh.push(array_literal(delta.duration_hist.counts()));
        wc.push(delta.wait_count);
        ws.push(delta.wait_sum_ms);
        wh.push(array_literal(delta.wait_hist.counts()));
    }
    let [pending, running, success, failed] = counts;
    sqlx::query(ROLLUP_SQL)
        .bind(g)
        .bind(b)
        .bind(name)
        .bind(pending)
        .bind(running)
        .bind(success)
        .bind(failed)
        .bind(dc)
        .bind(ds)
        .bind(dh)
        .bind(wc)
        .bind(ws)
        .bind(wh)
        .bind(ROLLUP_LANE_LOCK_CLASS)
        .bind(ROLLUP_LANES)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Publishes the batch's changes on the live channel. PostgreSQL delivers notifications only
/// when the transaction commits, so listeners never see a change that was rolled back.
async fn notify(
    changed: &[RunChange],
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), StoreError> {
    if changed.is_empty() {
        return Ok(());
    }
    let events: Vec<LiveEvent> = changed.iter().map(LiveEvent::of).collect();
    sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
        .bind(LIVE_CHANNEL)
        .bind(live::payloads(&events))
        .execute(&mut **tx)
        .await?;
    Ok(())
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

pub(super) async fn write_batch(
    pool: &PgPool,
    events: Vec<TaskRunEvent>,
) -> Result<WriteOutcome, StoreError> {
    let (incoming, rejected) = merge_incoming(events);
    if incoming.is_empty() {
        return Ok(WriteOutcome {
            changed: Vec::new(),
            rejected,
        });
    }

    let mut timer = StepTimer::new();
    let mut tx = pool.begin().await?;
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
    let existing: Vec<&Identity> = identities.values().filter(|i| !i.inserted).collect();
    let mut current: HashMap<i64, StoredRun> = HashMap::with_capacity(existing.len());
    if !existing.is_empty() {
        let ids: Vec<i64> = existing.iter().map(|i| i.id).collect();
        let created: Vec<DateTime<Utc>> = existing.iter().map(|i| i.created_at).collect();
        let (low, high) = bounds(&created);
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM task_execution_logs \
             WHERE id = ANY($1) AND created_at >= $2 AND created_at <= $3"
        );
        for row in sqlx::query(&sql)
            .bind(&ids)
            .bind(low)
            .bind(high)
            .fetch_all(&mut *tx)
            .await?
        {
            let run = stored_run(&row)?;
            current.insert(run.id, run);
        }
    }

    timer.step("read");
    let now = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now());
    // New runs go in by binary COPY (no statement to parse, no arrays to unnest); changed runs
    // by one UPDATE over arrays.
    let (mut inserts, mut inserted) = (CopyBuffer::new(), 0usize);
    let mut updates = RunColumns::default();
    let mut rollups = RollupChanges::default();
    let mut changed = Vec::new();
    for (digest, (state, _)) in incoming {
        let Some(identity) = identities.get(&digest) else {
            return Err(StoreError::Corrupt(format!(
                "no identity returned for run key {digest}"
            )));
        };
        // A run whose key survives but whose row expired is written again as new.
        let before = current.remove(&identity.id);
        let merged = match &before {
            Some(before) => before.state.clone().merge(state),
            None => state,
        };
        if before.as_ref().is_some_and(|b| b.state == merged) {
            continue; // a duplicate: nothing new
        }
        let before_contribution = before.as_ref().map(|b| Contribution::of(&b.state));
        rollups.record(
            identity.created_at,
            before_contribution.as_ref(),
            &Contribution::of(&merged),
        );
        let run = StoredRun {
            id: identity.id,
            created_at: identity.created_at,
            updated_at: now,
            state: merged,
        };
        match &before {
            Some(_) => updates.push(&run),
            None => {
                encode_run(&mut inserts, &run);
                inserted += 1;
            }
        }
        changed.push(RunChange {
            run,
            previous_status: before.map(|b| b.state.status),
        });
    }
    timer.step("merge");
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
    notify(&changed, &mut tx).await?;
    timer.step("notify");
    // Last before the commit: the lane's rows stay locked for as short a time as possible.
    apply_rollups(rollups.into_changes(), &mut tx).await?;
    timer.step("rollups");
    tx.commit().await?;
    timer.step("commit");
    tracing::debug!(runs = changed.len(), steps = %timer, "batch written");
    Ok(WriteOutcome { changed, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_literals() {
        assert_eq!(array_literal(&[]), "{}");
        assert_eq!(array_literal(&[1, 0, -2]), "{1,0,-2}");
    }
}
