//! Bulk import by binary COPY: the fastest way in, for backfills and for the benchmark's
//! baseline. It bypasses the merge: rows must be new runs. `write_batch` uses the same encoding
//! for the new runs of a batch, after its merge.

use std::collections::HashSet;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{PgPool, Row};
use tasklens_model::{Contribution, RollupChanges, RunState};

use super::write::apply_rollups;
use crate::error::StoreError;
use crate::types::StoredRun;

pub(super) const COPY_RUNS: &str = "COPY task_execution_logs (id, created_at, updated_at, enqueued_at, \
     started_at, completed_at, duration_ms, queue_wait_ms, attempt, status, source, task_name, \
     task_id, trace_id, span_id, queue, service_name, worker_host, error_type, params, \
     error_message, error_traceback) FROM STDIN (FORMAT binary)";
const COPY_KEYS: &str = "COPY task_run_keys (run_key, id, created_at) FROM STDIN (FORMAT binary)";

/// PostgreSQL's binary COPY format: a header, tuples of length-prefixed fields, a trailer.
pub(super) struct CopyBuffer {
    bytes: Vec<u8>,
}

impl CopyBuffer {
    pub(super) fn new() -> Self {
        let mut bytes = Vec::with_capacity(1 << 20);
        bytes.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        bytes.extend_from_slice(&0i32.to_be_bytes()); // flags
        bytes.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyBuffer { bytes }
    }

    fn tuple(&mut self, fields: i16) {
        self.bytes.extend_from_slice(&fields.to_be_bytes());
    }

    fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn raw(&mut self, value: &[u8]) {
        // Values are capped far below 2 GiB by the model's limits.
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(value);
    }

    fn opt_raw(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => self.raw(v),
            None => self.null(),
        }
    }

    fn text(&mut self, value: Option<&str>) {
        self.opt_raw(value.map(str::as_bytes));
    }

    fn i64(&mut self, value: Option<i64>) {
        match value {
            Some(v) => self.raw(&v.to_be_bytes()),
            None => self.null(),
        }
    }

    fn time(&mut self, value: Option<DateTime<Utc>>) {
        // Microseconds since 2000-01-01, PostgreSQL's epoch.
        let epoch = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        self.i64(value.and_then(|t| (t - epoch).num_microseconds()));
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&(-1i16).to_be_bytes());
        self.bytes
    }
}

pub(super) fn encode_run(buf: &mut CopyBuffer, run: &StoredRun) {
    let s: &RunState = &run.state;
    buf.tuple(22);
    buf.i64(Some(run.id));
    buf.time(Some(run.created_at));
    buf.time(Some(run.updated_at));
    buf.time(s.enqueued_at);
    buf.time(s.started_at);
    buf.time(s.completed_at);
    buf.i64(s.duration_ms());
    buf.i64(s.queue_wait_ms());
    buf.raw(&s.attempt.to_be_bytes());
    buf.text(Some(s.status.as_str()));
    buf.text(Some(s.source.as_str()));
    buf.text(Some(&s.task_name));
    buf.text(Some(&s.task_id));
    buf.opt_raw(s.trace_id.as_ref().map(|t| t.as_slice()));
    buf.opt_raw(s.span_id.as_ref().map(|t| t.as_slice()));
    buf.text(s.queue.as_deref());
    buf.text(s.service_name.as_deref());
    buf.text(s.worker_host.as_deref());
    buf.text(s.error_type.as_deref());
    match &s.params {
        Some(params) => {
            let mut jsonb = vec![1u8]; // jsonb binary format version
            jsonb.extend_from_slice(params.to_string().as_bytes());
            buf.raw(&jsonb);
        }
        None => buf.null(),
    }
    buf.text(s.error_message.as_deref());
    buf.text(s.error_traceback.as_deref());
}

/// Reserves `n` ids from the runs' sequence.
pub(super) async fn reserve_ids(pool: &PgPool, n: usize) -> Result<Vec<i64>, StoreError> {
    let n = i64::try_from(n).map_err(|_| StoreError::InvalidQuery("too many ids".into()))?;
    let rows =
        sqlx::query("SELECT nextval('task_execution_logs_id_seq') FROM generate_series(1, $1)")
            .bind(n)
            .fetch_all(pool)
            .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Binary COPY of the rows alone: no identity, no rollups. The benchmark's baseline.
pub(super) async fn copy_rows(pool: &PgPool, runs: &[StoredRun]) -> Result<u64, StoreError> {
    let mut buf = CopyBuffer::new();
    for run in runs {
        encode_run(&mut buf, run);
    }
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw(COPY_RUNS).await?;
    copy.send(buf.finish()).await?;
    Ok(copy.finish().await?)
}

/// Imports new runs completely (rows, identities, rollups) in one transaction.
pub(super) async fn import_runs(pool: &PgPool, runs: &[StoredRun]) -> Result<u64, StoreError> {
    let mut keys = HashSet::with_capacity(runs.len());
    let mut rows = CopyBuffer::new();
    let mut identities = CopyBuffer::new();
    let mut rollups = RollupChanges::default();
    for run in runs {
        let digest = run.state.key().digest();
        if !keys.insert(digest) {
            return Err(StoreError::InvalidQuery(format!(
                "run {} appears twice in one import",
                run.state.key()
            )));
        }
        encode_run(&mut rows, run);
        identities.tuple(3);
        identities.raw(digest.as_bytes());
        identities.i64(Some(run.id));
        identities.time(Some(run.created_at));
        rollups.record(run.created_at, None, &Contribution::of(&run.state));
    }
    let mut tx = pool.begin().await?;
    let mut copy = tx.copy_in_raw(COPY_KEYS).await?;
    copy.send(identities.finish()).await?;
    copy.finish().await?;
    let mut copy = tx.copy_in_raw(COPY_RUNS).await?;
    copy.send(rows.finish()).await?;
    let written = copy.finish().await?;
    apply_rollups(rollups.into_changes(), &mut tx).await?;
    tx.commit().await?;
    Ok(written)
}
