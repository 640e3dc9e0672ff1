//! The queries behind the dashboard: metrics and counts from rollups, pages from raw rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tasklens_model::window::split;
use tasklens_model::{Contribution, Histogram, RollupDelta, TaskStatus, WindowPiece};

use super::rows::{RUN_COLUMNS, status, stored_run};
use crate::error::StoreError;
use crate::figures;
use crate::types::{
    AttemptSummary, HistoryPage, HistoryQuery, RunDetail, TaskMetrics, TimeseriesPoint,
    TimeseriesQuery,
};

const ROLLUP_FIGURES: &str = "task_name, pending, running, success, failed, duration_count, \
     duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist";

fn rollup_figures(row: &sqlx::postgres::PgRow) -> Result<RollupDelta, StoreError> {
    Ok(RollupDelta {
        status_counts: [
            row.try_get("pending")?,
            row.try_get("running")?,
            row.try_get("success")?,
            row.try_get("failed")?,
        ],
        duration_count: row.try_get("duration_count")?,
        duration_sum_ms: row.try_get("duration_sum_ms")?,
        duration_hist: Histogram::from_counts(row.try_get("duration_hist")?),
        wait_count: row.try_get("wait_count")?,
        wait_sum_ms: row.try_get("wait_sum_ms")?,
        wait_hist: Histogram::from_counts(row.try_get("wait_hist")?),
    })
}

/// Which raw rows or rollup rows count: a task type, a status (only for counting rows).
#[derive(Clone, Copy, Default)]
struct Scope<'a> {
    task_name: Option<&'a str>,
    status: Option<TaskStatus>,
}

/// Sums, per task type, the figures of the runs created in `pieces`: rollup rows for the
/// bucket pieces, raw rows for the rest.
async fn figures_over(
    pool: &PgPool,
    pieces: &[WindowPiece],
    scope: Scope<'_>,
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
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {ROLLUP_FIGURES} FROM task_rollups WHERE ("
        ));
        for (i, span) in spans.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push("(granularity = ")
                .push_bind(span.granularity.as_str())
                .push("::rollup_granularity AND bucket >= ")
                .push_bind(span.from);
            if let Some(to) = span.to {
                qb.push(" AND bucket < ").push_bind(to);
            }
            qb.push(")");
        }
        qb.push(")");
        if let Some(name) = scope.task_name {
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
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT task_name, status::text AS status, duration_ms, queue_wait_ms \
             FROM task_execution_logs WHERE created_at >= ",
        );
        qb.push_bind(from).push(" AND created_at < ").push_bind(to);
        if let Some(name) = scope.task_name {
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
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<TaskMetrics>, StoreError> {
    let by_task = figures_over(pool, &split(since, None), Scope::default()).await?;
    Ok(figures::all_task_metrics(by_task))
}

/// Escapes LIKE wildcards so free text matches literally.
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

fn push_history_filters<'a>(qb: &mut QueryBuilder<'a, Postgres>, query: &'a HistoryQuery) {
    qb.push(" WHERE true");
    if let Some(name) = &query.task_name {
        qb.push(" AND task_name = ").push_bind(name.as_str());
    }
    if let Some(status) = query.status {
        qb.push(" AND status = ")
            .push_bind(status.as_str())
            .push("::task_status");
    }
    if let Some(start) = query.start {
        qb.push(" AND created_at >= ").push_bind(start);
    }
    if let Some(end) = query.end {
        qb.push(" AND created_at < ").push_bind(end);
    }
    if let Some(text) = query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let escaped = like_escape(text);
        qb.push(" AND (task_id = ")
            .push_bind(text.to_owned())
            .push(" OR task_id LIKE ")
            .push_bind(format!("{escaped}%"))
            .push(" OR error_message ILIKE ")
            .push_bind(format!("%{escaped}%"))
            // The same expression as the trigram index on the params' JSON text.
            .push(" OR (params::text) ILIKE ")
            .push_bind(format!("%{escaped}%"))
            .push(")");
    }
}

/// Counts the runs matching `query`: from rollups (plus raw rows at the edges) when the filters
/// allow; over raw rows, up to [`HistoryQuery::TEXT_COUNT_CAP`], when free text is involved.
/// Returns the count and whether it is exact.
async fn history_count(pool: &PgPool, query: &HistoryQuery) -> Result<(i64, bool), StoreError> {
    if query.text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        // Newest first with a limit: the same index walk as the page, stopping at the cap.
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT count(*) FROM (SELECT 1 FROM task_execution_logs",
        );
        push_history_filters(&mut qb, query);
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(HistoryQuery::TEXT_COUNT_CAP + 1)
            .push(") AS matches");
        let count: i64 = qb.build().fetch_one(pool).await?.try_get(0)?;
        return Ok(if count > HistoryQuery::TEXT_COUNT_CAP {
            (HistoryQuery::TEXT_COUNT_CAP, false)
        } else {
            (count, true)
        });
    }
    let start = query.start.unwrap_or(DateTime::UNIX_EPOCH);
    let pieces = split(start, query.end);
    let scope = Scope {
        task_name: query.task_name.as_deref(),
        status: query.status,
    };
    let by_task = figures_over(pool, &pieces, scope).await?;
    let count = by_task
        .values()
        .map(|figures| match scope.status {
            Some(status) => figures.count(status),
            None => figures.total(),
        })
        .sum();
    Ok((count, true))
}

pub(super) async fn history(
    pool: &PgPool,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    query.validate().map_err(StoreError::InvalidQuery)?;
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {RUN_COLUMNS} FROM task_execution_logs"));
    push_history_filters(&mut qb, query);
    let offset = i64::from(query.page - 1) * i64::from(query.page_size);
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(query.page_size))
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = qb.build().fetch_all(pool).await?;
    let items = rows.iter().map(stored_run).collect::<Result<Vec<_>, _>>()?;
    let (total_count, total_is_exact) = history_count(pool, query).await?;
    Ok(HistoryPage {
        total_count,
        total_is_exact,
        page: query.page,
        page_size: query.page_size,
        items,
    })
}

pub(super) async fn run(pool: &PgPool, id: i64) -> Result<Option<RunDetail>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM task_execution_logs WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let run = stored_run(&row)?;
    let rows = sqlx::query(
        "SELECT id, attempt, status::text AS status, created_at, started_at, completed_at, \
         duration_ms, error_message FROM task_execution_logs \
         WHERE task_id = $1 AND source = $2::task_source AND id <> $3 \
         ORDER BY attempt, created_at",
    )
    .bind(&run.state.task_id)
    .bind(run.state.source.as_str())
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
                created_at: row.try_get("created_at")?,
                started_at: row.try_get("started_at")?,
                completed_at: row.try_get("completed_at")?,
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
    pool: &PgPool,
    query: &TimeseriesQuery,
) -> Result<Vec<TimeseriesPoint>, StoreError> {
    let end = query.end.unwrap_or_else(Utc::now);
    if query.start >= end {
        return Err(StoreError::InvalidQuery("start must be before end".into()));
    }
    let granularity = query
        .granularity
        .unwrap_or_else(|| TimeseriesQuery::granularity_for(end - query.start));
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT bucket, {ROLLUP_FIGURES} FROM task_rollups WHERE granularity = "
    ));
    qb.push_bind(granularity.as_str())
        .push("::rollup_granularity AND bucket >= ")
        .push_bind(granularity.floor(query.start))
        .push(" AND bucket < ")
        .push_bind(end);
    if let Some(name) = &query.task_name {
        qb.push(" AND task_name = ").push_bind(name.as_str());
    }
    qb.push(" ORDER BY bucket, task_name");
    let mut points = Vec::new();
    for row in qb.build().fetch_all(pool).await? {
        let figures = rollup_figures(&row)?;
        if figures.total() > 0 {
            points.push(figures::timeseries_point(
                row.try_get("bucket")?,
                row.try_get("task_name")?,
                &figures,
            ));
        }
    }
    Ok(points)
}

pub(super) async fn task_names(pool: &PgPool) -> Result<Vec<String>, StoreError> {
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
    use super::like_escape;

    #[test]
    fn like_wildcards_match_literally() {
        assert_eq!(like_escape("100%_done\\"), "100\\%\\_done\\\\");
    }
}
