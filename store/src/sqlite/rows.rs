//! SQLite's spelling of the shared statements, and its row codecs: timestamps as microseconds
//! since the epoch, histograms and params as JSON text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tasklens_model::Histogram;

use crate::error::StoreError;
use crate::query::contains_pattern;
use crate::sql::Dialect;

/// The SQLite dialect.
#[derive(Debug)]
pub(crate) struct Lite;

#[async_trait]
impl Dialect for Lite {
    type Db = Sqlite;
    type Row = SqliteRow;

    const RUN_COLUMNS: &'static str = "id, created_at, updated_at, enqueued_at, started_at, \
         completed_at, attempt, status, source, task_name, task_id, trace_id, span_id, queue, \
         service_name, environment, worker_host, error_type, params, error_message, \
         error_traceback";
    const STATUS_TEXT: &'static str = "status";
    const SOURCE_TEXT: &'static str = "source";
    const GRANULARITY_CAST: &'static str = "";
    const STATUS_CAST: &'static str = "";
    const SOURCE_CAST: &'static str = "";
    const GROUP_STATE_CAST: &'static str = "";

    async fn fetch_all(
        pool: &SqlitePool,
        qb: &mut QueryBuilder<'_, Sqlite>,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        Ok(qb.build().fetch_all(pool).await?)
    }

    fn push_text<'a>(qb: &mut QueryBuilder<'a, Sqlite>, value: &'a str) {
        qb.push_bind(value);
    }

    fn push_time(qb: &mut QueryBuilder<'_, Sqlite>, value: DateTime<Utc>) {
        qb.push_bind(micros(value));
    }

    fn push_int(qb: &mut QueryBuilder<'_, Sqlite>, value: i64) {
        qb.push_bind(value);
    }

    /// Task id: exact or prefix, case-sensitive (as on PostgreSQL), through the task id index.
    /// Error message and params (their JSON text): a part of it, case-insensitive (SQLite's
    /// LIKE folds ASCII letters only), each through its partial covering index. Three
    /// subqueries, because SQLite reads every row for an OR of these conditions.
    fn push_free_text(qb: &mut QueryBuilder<'_, Sqlite>, text: &str) {
        qb.push(" AND id IN (SELECT id FROM task_execution_logs WHERE task_id >= ")
            .push_bind(text.to_owned())
            .push(" AND task_id < CAST(")
            .push_bind(prefix_upper_bound(text))
            .push(
                " AS TEXT) UNION ALL SELECT id FROM task_execution_logs \
             WHERE error_message IS NOT NULL AND error_message LIKE ",
            )
            .push_bind(contains_pattern(text))
            .push(
                " ESCAPE '\\' UNION ALL SELECT id FROM task_execution_logs \
             WHERE params IS NOT NULL AND params LIKE ",
            )
            .push_bind(contains_pattern(text))
            .push(" ESCAPE '\\')");
    }

    fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
        timestamp(row.try_get(column)?)
    }

    fn opt_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<i64>, _>(column)?
            .map(timestamp)
            .transpose()
    }

    fn histogram(row: &SqliteRow, column: &str) -> Result<Histogram, StoreError> {
        histogram(row.try_get(column)?)
    }

    fn params(row: &SqliteRow, column: &str) -> Result<Option<Value>, StoreError> {
        row.try_get::<Option<String>, _>(column)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("params: {e}")))
    }
}

/// The exclusive upper bound of the task ids starting with `prefix`, as bytes: the prefix
/// followed by 0xFF, a byte no UTF-8 text contains, so every id with the prefix sorts below it
/// in the binary collation and the task id index serves the search.
fn prefix_upper_bound(prefix: &str) -> Vec<u8> {
    let mut bound = prefix.as_bytes().to_vec();
    bound.push(0xFF);
    bound
}

/// Timestamps are stored as microseconds since the epoch: PostgreSQL's precision, and the model
/// truncates every timestamp to it before the store sees it.
pub(super) fn micros(ts: DateTime<Utc>) -> i64 {
    ts.timestamp_micros()
}

pub(super) fn timestamp(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp out of range: {micros} µs")))
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
    fn the_prefix_bound_sorts_after_every_id_with_the_prefix() {
        let bound = prefix_upper_bound("task-02");
        for id in ["task-02", "task-025", "task-02\u{10FFFF}zz"] {
            assert!(id.as_bytes() < bound.as_slice(), "{id}");
        }
        assert!("task-03".as_bytes() > bound.as_slice());
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
