//! The queries behind the dashboard: metrics and counts from rollups, pages from raw rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tasklens_model::window::{search_windows, split};
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

/// Counts the runs matching `query` (no free text: see `text_history`) from rollups, plus raw
/// rows at the edges of the range. Exact.
async fn history_count(pool: &PgPool, query: &HistoryQuery) -> Result<(i64, bool), StoreError> {
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

/// A free-text page: walks time windows newest first (`search_windows`), collecting the
/// matches' keys until the page and the count cap are covered, then reads the page's rows. Over
/// 30 days a common word fills the cap within the newest day; one query over every partition
/// would sort every match first.
async fn text_history(pool: &PgPool, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
    let page_size = usize::try_from(query.page_size).unwrap_or(usize::MAX);
    let offset = usize::try_from(query.page - 1)
        .unwrap_or(usize::MAX)
        .saturating_mul(page_size);
    let cap = usize::try_from(HistoryQuery::TEXT_COUNT_CAP).unwrap_or(usize::MAX);
    let wanted = offset.saturating_add(page_size).max(cap + 1);
    let mut keys: Vec<(i64, DateTime<Utc>)> = Vec::new();
    for (from, to) in search_windows(query.start, query.end, Utc::now()) {
        let mut qb =
            QueryBuilder::<Postgres>::new("SELECT id, created_at FROM task_execution_logs");
        push_history_filters(&mut qb, query);
        if let Some(from) = from {
            qb.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = to {
            qb.push(" AND created_at < ").push_bind(to);
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::try_from(wanted - keys.len()).unwrap_or(i64::MAX));
        for row in qb.build().fetch_all(pool).await? {
            keys.push((row.try_get("id")?, row.try_get("created_at")?));
        }
        if keys.len() >= wanted {
            break;
        }
    }
    let total = if keys.len() > cap {
        (HistoryQuery::TEXT_COUNT_CAP, false)
    } else {
        (i64::try_from(keys.len()).unwrap_or(i64::MAX), true)
    };
    let page_keys = keys
        .get(offset..keys.len().min(offset.saturating_add(page_size)))
        .unwrap_or_default();
    let items = match (page_keys.first(), page_keys.last()) {
        (Some(newest), Some(oldest)) => {
            let ids: Vec<i64> = page_keys.iter().map(|(id, _)| *id).collect();
            // The time bounds let PostgreSQL read only the partitions the page lies in.
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM task_execution_logs \
                 WHERE id = ANY($1) AND created_at >= $2 AND created_at <= $3 \
                 ORDER BY created_at DESC, id DESC"
            );
            let rows = sqlx::query(&sql)
                .bind(ids)
                .bind(oldest.1)
                .bind(newest.1)
                .fetch_all(pool)
                .await?;
            rows.iter().map(stored_run).collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };
    Ok(HistoryPage::of(query, items, total))
}

pub(super) async fn history(
    pool: &PgPool,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    query.validate().map_err(StoreError::InvalidQuery)?;
    if query.text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        return text_history(pool, query).await;
    }
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
    let total = history_count(pool, query).await?;
    Ok(HistoryPage::of(query, items, total))
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
    // A bucket's figures for one task type may be spread over several rollup lanes: the rows
    // of one (bucket, task type) arrive together and are summed.
    let mut summed: Vec<(DateTime<Utc>, String, RollupDelta)> = Vec::new();
    for row in qb.build().fetch_all(pool).await? {
        let bucket: DateTime<Utc> = row.try_get("bucket")?;
        let task_name: String = row.try_get("task_name")?;
        let figures = rollup_figures(&row)?;
        match summed.last_mut() {
            Some((b, n, sum)) if *b == bucket && *n == task_name => sum.add(&figures),
            _ => summed.push((bucket, task_name, figures)),
        }
    }
    Ok(summed
        .into_iter()
        .filter(|(_, _, figures)| figures.total() > 0)
        .map(|(bucket, task_name, figures)| figures::timeseries_point(bucket, task_name, &figures))
        .collect())
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
