//! The queries behind the dashboard on SQLite, shaped like `postgres/read.rs` so the figures
//! are the same: metrics and counts from rollups plus raw edges, pages from raw rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tasklens_model::window::split;
use tasklens_model::{Contribution, RollupDelta, WindowPiece};

use super::rows::{RUN_COLUMNS, histogram, micros, status, stored_run, timestamp};
use crate::error::StoreError;
use crate::figures;
use crate::types::{
    AttemptSummary, HistoryPage, HistoryQuery, RunDetail, TaskMetrics, TimeseriesPoint,
    TimeseriesQuery,
};

const ROLLUP_FIGURES: &str = "task_name, pending, running, success, failed, duration_count, \
     duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist";

fn rollup_figures(row: &SqliteRow) -> Result<RollupDelta, StoreError> {
    Ok(RollupDelta {
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
    })
}

/// Sums, per task type, the figures of the runs created in `pieces`: rollup rows for the
/// bucket pieces, raw rows for the rest.
async fn figures_over(
    pool: &SqlitePool,
    pieces: &[WindowPiece],
    task_name: Option<&str>,
) -> Result<BTreeMap<String, RollupDelta>, StoreError> {
    let mut by_task: BTreeMap<String, RollupDelta> = BTreeMap::new();
    let spans: Vec<_> = pieces
        .iter()
        .filter_map(|p| match p {
            WindowPiece::Buckets(span) => Some(*span),
            WindowPiece::Raw { .. } => None,
        })
        .collect();
    if !spans.is_empty() {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {ROLLUP_FIGURES} FROM task_rollups WHERE ("
        ));
        for (i, span) in spans.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push("(granularity = ")
                .push_bind(span.granularity.as_str())
                .push(" AND bucket >= ")
                .push_bind(micros(span.from));
            if let Some(to) = span.to {
                qb.push(" AND bucket < ").push_bind(micros(to));
            }
            qb.push(")");
        }
        qb.push(")");
        if let Some(name) = task_name {
            qb.push(" AND task_name = ").push_bind(name);
        }
        for row in qb.build().fetch_all(pool).await? {
            let name: String = row.try_get("task_name")?;
            by_task.entry(name).or_default().add(&rollup_figures(&row)?);
        }
    }
    for piece in pieces {
        let WindowPiece::Raw { from, to } = *piece else {
            continue;
        };
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT task_name, status, duration_ms, queue_wait_ms \
             FROM task_execution_logs WHERE created_at >= ",
        );
        qb.push_bind(micros(from))
            .push(" AND created_at < ")
            .push_bind(micros(to));
        if let Some(name) = task_name {
            qb.push(" AND task_name = ").push_bind(name);
        }
        for row in qb.build().fetch_all(pool).await? {
            let contribution = Contribution {
                task_name: row.try_get("task_name")?,
                status: status(row.try_get("status")?)?,
                duration_ms: row.try_get("duration_ms")?,
                queue_wait_ms: row.try_get("queue_wait_ms")?,
            };
            by_task
                .entry(contribution.task_name.clone())
                .or_default()
                .apply(&contribution, 1);
        }
    }
    Ok(by_task)
}

pub(super) async fn metrics(
    pool: &SqlitePool,
    since: DateTime<Utc>,
) -> Result<Vec<TaskMetrics>, StoreError> {
    let by_task = figures_over(pool, &split(since, None), None).await?;
    Ok(figures::all_task_metrics(by_task))
}

/// Escapes LIKE wildcards so free text matches literally (with `ESCAPE '\'`).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The exclusive upper bound of the task ids starting with `prefix`, as bytes: the prefix
/// followed by 0xFF, a byte no UTF-8 text contains, so every id with the prefix sorts below it
/// in the binary collation and the task id index serves the search.
fn prefix_upper_bound(prefix: &str) -> Vec<u8> {
    let mut bound = prefix.as_bytes().to_vec();
    bound.push(0xFF);
    bound
}

fn free_text(query: &HistoryQuery) -> Option<&str> {
    query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn push_history_filters<'a>(qb: &mut QueryBuilder<'a, Sqlite>, query: &'a HistoryQuery) {
    qb.push(" WHERE 1");
    if let Some(name) = &query.task_name {
        qb.push(" AND task_name = ").push_bind(name.as_str());
    }
    if let Some(status) = query.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(start) = query.start {
        qb.push(" AND created_at >= ").push_bind(micros(start));
    }
    if let Some(end) = query.end {
        qb.push(" AND created_at < ").push_bind(micros(end));
    }
    if let Some(text) = free_text(query) {
        // Task id: exact or prefix, case-sensitive (as on PostgreSQL), through the task id
        // index. Error message and params (their JSON text): a part of it, case-insensitive
        // (SQLite's LIKE folds ASCII letters only), each through its partial covering index.
        // Three subqueries, because SQLite reads every row for an OR of these conditions.
        qb.push(" AND id IN (SELECT id FROM task_execution_logs WHERE task_id >= ")
            .push_bind(text)
            .push(" AND task_id < CAST(")
            .push_bind(prefix_upper_bound(text))
            .push(
                " AS TEXT) UNION ALL SELECT id FROM task_execution_logs \
             WHERE error_message IS NOT NULL AND error_message LIKE ",
            )
            .push_bind(format!("%{}%", like_escape(text)))
            .push(
                " ESCAPE '\\' UNION ALL SELECT id FROM task_execution_logs \
             WHERE params IS NOT NULL AND params LIKE ",
            )
            .push_bind(format!("%{}%", like_escape(text)))
            .push(" ESCAPE '\\')");
    }
}

/// Counts the runs matching `query`: from rollups (plus raw rows at the edges) when the filters
/// allow; over raw rows, up to [`HistoryQuery::TEXT_COUNT_CAP`], when free text is involved.
/// Returns the count and whether it is exact.
async fn history_count(pool: &SqlitePool, query: &HistoryQuery) -> Result<(i64, bool), StoreError> {
    if free_text(query).is_some() {
        let mut qb =
            QueryBuilder::<Sqlite>::new("SELECT count(*) FROM (SELECT 1 FROM task_execution_logs");
        push_history_filters(&mut qb, query);
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(HistoryQuery::TEXT_COUNT_CAP + 1)
            .push(")");
        let count: i64 = qb.build().fetch_one(pool).await?.try_get(0)?;
        return Ok(if count > HistoryQuery::TEXT_COUNT_CAP {
            (HistoryQuery::TEXT_COUNT_CAP, false)
        } else {
            (count, true)
        });
    }
    let start = query.start.unwrap_or(DateTime::UNIX_EPOCH);
    let by_task = figures_over(pool, &split(start, query.end), query.task_name.as_deref()).await?;
    let count = by_task
        .values()
        .map(|figures| match query.status {
            Some(status) => figures.count(status),
            None => figures.total(),
        })
        .sum();
    Ok((count, true))
}

pub(super) async fn history(
    pool: &SqlitePool,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    query.validate().map_err(StoreError::InvalidQuery)?;
    let mut qb =
        QueryBuilder::<Sqlite>::new(format!("SELECT {RUN_COLUMNS} FROM task_execution_logs"));
    push_history_filters(&mut qb, query);
    let offset = i64::from(query.page - 1) * i64::from(query.page_size);
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(query.page_size))
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = qb.build().fetch_all(pool).await?;
    let items = rows.iter().map(stored_run).collect::<Result<Vec<_>, _>>()?;
    let total = history_count(pool, query).await?;
    Ok(HistoryPage::of(query, items, total))
}

pub(super) async fn run(pool: &SqlitePool, id: i64) -> Result<Option<RunDetail>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM task_execution_logs WHERE id = ?1");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let run = stored_run(&row)?;
    let rows = sqlx::query(
        "SELECT id, attempt, status, created_at, started_at, completed_at, duration_ms, \
         error_message FROM task_execution_logs \
         WHERE source = ?1 AND task_id = ?2 AND id <> ?3 \
         ORDER BY attempt, created_at",
    )
    .bind(run.state.source.as_str())
    .bind(&run.state.task_id)
    .bind(id)
    .fetch_all(pool)
    .await?;
    let other_attempts = rows
        .iter()
        .map(|row| {
            Ok(AttemptSummary {
                id: row.try_get("id")?,
                attempt: row.try_get("attempt")?,
                status: status(row.try_get("status")?)?,
                created_at: timestamp(row.try_get("created_at")?)?,
                started_at: row
                    .try_get::<Option<i64>, _>("started_at")?
                    .map(timestamp)
                    .transpose()?,
                completed_at: row
                    .try_get::<Option<i64>, _>("completed_at")?
                    .map(timestamp)
                    .transpose()?,
                duration_ms: row.try_get("duration_ms")?,
                error_message: row.try_get("error_message")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(RunDetail {
        run,
        other_attempts,
    }))
}

pub(super) async fn timeseries(
    pool: &SqlitePool,
    query: &TimeseriesQuery,
) -> Result<Vec<TimeseriesPoint>, StoreError> {
    let end = query.end.unwrap_or_else(Utc::now);
    if query.start >= end {
        return Err(StoreError::InvalidQuery("start must be before end".into()));
    }
    let granularity = query
        .granularity
        .unwrap_or_else(|| TimeseriesQuery::granularity_for(end - query.start));
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT bucket, {ROLLUP_FIGURES} FROM task_rollups WHERE granularity = "
    ));
    qb.push_bind(granularity.as_str())
        .push(" AND bucket >= ")
        .push_bind(micros(granularity.floor(query.start)))
        .push(" AND bucket < ")
        .push_bind(micros(end));
    if let Some(name) = &query.task_name {
        qb.push(" AND task_name = ").push_bind(name.as_str());
    }
    qb.push(" ORDER BY bucket, task_name");
    let mut points = Vec::new();
    for row in qb.build().fetch_all(pool).await? {
        let figures = rollup_figures(&row)?;
        if figures.total() > 0 {
            points.push(figures::timeseries_point(
                timestamp(row.try_get("bucket")?)?,
                row.try_get("task_name")?,
                &figures,
            ));
        }
    }
    Ok(points)
}

pub(super) async fn task_names(pool: &SqlitePool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT task_name FROM task_rollups WHERE granularity = 'day' GROUP BY task_name \
         HAVING sum(pending + running + success + failed) > 0 ORDER BY task_name",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok(row.try_get("task_name")?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_match_literally() {
        assert_eq!(like_escape("100%_done\\"), "100\\%\\_done\\\\");
    }

    #[test]
    fn the_prefix_bound_sorts_after_every_id_with_the_prefix() {
        let bound = prefix_upper_bound("task-02");
        for id in ["task-02", "task-025", "task-02\u{10FFFF}zz"] {
            assert!(id.as_bytes() < bound.as_slice(), "{id}");
        }
        assert!("task-03".as_bytes() > bound.as_slice());
    }
}
