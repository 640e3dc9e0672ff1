//! Decoding SQLite rows into model types, and the column lists the statements share.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tasklens_model::{Histogram, RunState, SourceSystem, TaskStatus};

use crate::error::StoreError;
use crate::types::StoredRun;

/// The columns [`stored_run`] decodes, in a SELECT list.
pub(super) const RUN_COLUMNS: &str = "id, created_at, updated_at, enqueued_at, started_at, \
     completed_at, attempt, status, source, task_name, task_id, trace_id, span_id, queue, \
     service_name, worker_host, error_type, params, error_message, error_traceback";

/// Timestamps are stored as microseconds since the epoch: PostgreSQL's precision, and the model
/// truncates every timestamp to it before the store sees it.
pub(super) fn micros(ts: DateTime<Utc>) -> i64 {
    ts.timestamp_micros()
}

pub(super) fn timestamp(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp out of range: {micros} µs")))
}

fn optional_timestamp(micros: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(timestamp).transpose()
}

pub(super) fn status(text: &str) -> Result<TaskStatus, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{e}")))
}

/// A histogram column: a JSON array of counts per bin.
pub(super) fn histogram(text: &str) -> Result<Histogram, StoreError> {
    serde_json::from_str::<Vec<i64>>(text)
        .map(Histogram::from_counts)
        .map_err(|e| StoreError::Corrupt(format!("histogram {text:?}: {e}")))
}

pub(super) fn histogram_text(histogram: &Histogram) -> String {
    let counts: Vec<String> = histogram.counts().iter().map(i64::to_string).collect();
    format!("[{}]", counts.join(","))
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

pub(super) fn stored_run(row: &SqliteRow) -> Result<StoredRun, StoreError> {
    let source: String = row.try_get("source")?;
    let status_text: String = row.try_get("status")?;
    let params: Option<String> = row.try_get("params")?;
    let params = params
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("params: {e}")))?;
    let state = RunState {
        source: source
            .parse::<SourceSystem>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        task_id: row.try_get("task_id")?,
        attempt: row.try_get("attempt")?,
        task_name: row.try_get("task_name")?,
        status: status(&status_text)?,
        enqueued_at: optional_timestamp(row.try_get("enqueued_at")?)?,
        started_at: optional_timestamp(row.try_get("started_at")?)?,
        completed_at: optional_timestamp(row.try_get("completed_at")?)?,
        params,
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
        created_at: timestamp(row.try_get("created_at")?)?,
        updated_at: timestamp(row.try_get("updated_at")?)?,
        state,
    })
}

/// Writes JSON the way PostgreSQL prints `jsonb` (`{"a": 1, "b": [1, 2]}`), so free text over
/// params matches the same spellings on both backends, including what the page shows.
struct JsonbStyle;

impl serde_json::ser::Formatter for JsonbStyle {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        // The same `, ` between members as between elements.
        self.begin_array_value(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The stored text of params: JSON in PostgreSQL's `jsonb` spacing.
pub(super) fn params_text(params: &serde_json::Value) -> Result<String, StoreError> {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, JsonbStyle);
    params
        .serialize(&mut serializer)
        .map_err(|e| StoreError::Corrupt(format!("params: {e}")))?;
    String::from_utf8(out).map_err(|e| StoreError::Corrupt(format!("params: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn histograms_round_trip_through_their_text() {
        let mut h = Histogram::default();
        h.add_bin(3, 2);
        h.add_bin(0, -1);
        assert_eq!(histogram_text(&h), "[-1,0,0,2]");
        assert_eq!(histogram(&histogram_text(&h)).expect("parses"), h);
        assert_eq!(histogram("[]").expect("parses"), Histogram::default());
        assert!(histogram("{").is_err());
    }

    #[test]
    fn timestamps_round_trip_at_microsecond_precision() {
        let ts = DateTime::from_timestamp_micros(1_795_000_000_123_456).expect("valid");
        assert_eq!(timestamp(micros(ts)).expect("valid"), ts);
    }

    #[test]
    fn params_are_stored_in_postgres_jsonb_spacing() {
        let text =
            params_text(&json!({"b": [1, 2, {"c": null}], "a": "x, y: z"})).expect("serializes");
        assert_eq!(text, r#"{"a": "x, y: z", "b": [1, 2, {"c": null}]}"#);
        assert_eq!(params_text(&json!([])).expect("empty"), "[]");
        assert_eq!(params_text(&json!({})).expect("empty"), "{}");
    }
}
