//! PostgreSQL's binary COPY format, for the rows of new runs (a batch's inserts and bulk
//! imports): no statement to parse, no arrays to unnest.

use chrono::{DateTime, TimeZone, Utc};
use tasklens_model::RunState;

use crate::runs::StoredRun;

pub(super) const COPY_RUNS: &str = "COPY task_execution_logs (id, created_at, updated_at, enqueued_at, \
     started_at, completed_at, duration_ms, queue_wait_ms, attempt, status, source, task_name, \
     task_id, trace_id, span_id, queue, service_name, worker_host, error_type, params, \
     error_message, error_traceback, error_group_id, environment) FROM STDIN (FORMAT binary)";
pub(super) const COPY_KEYS: &str =
    "COPY task_run_keys (run_key, id, created_at) FROM STDIN (FORMAT binary)";

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

    pub(super) fn tuple(&mut self, fields: i16) {
        self.bytes.extend_from_slice(&fields.to_be_bytes());
    }

    fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    pub(super) fn raw(&mut self, value: &[u8]) {
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

    pub(super) fn i64(&mut self, value: Option<i64>) {
        match value {
            Some(v) => self.raw(&v.to_be_bytes()),
            None => self.null(),
        }
    }

    pub(super) fn time(&mut self, value: Option<DateTime<Utc>>) {
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

/// One row of [`COPY_RUNS`]: the run, and its error group's id.
pub(super) fn encode_run(buf: &mut CopyBuffer, run: &StoredRun, error_group: Option<i64>) {
    let s: &RunState = &run.state;
    buf.tuple(24);
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
    buf.i64(error_group);
    buf.text(s.environment.as_deref());
}
