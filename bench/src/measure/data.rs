//! Where the generated data lies: counts before a time, the oldest day, a task id from the
//! middle.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use tasklens_model::Granularity;
use tasklens_store::{HistoryQuery, PgStore, TaskStore};

/// Runs created before `end`.
pub async fn count_before(store: &PgStore, end: DateTime<Utc>) -> Result<i64> {
    let page = store
        .history(&HistoryQuery {
            end: Some(end),
            page_size: 1,
            ..HistoryQuery::default()
        })
        .await?;
    Ok(page.total_count)
}

/// The first day (UTC) that holds runs, by bisection over counts of runs created before a day.
pub async fn oldest_day(store: &PgStore) -> Result<DateTime<Utc>> {
    const MAX_DAYS_BACK: i64 = 400;
    let today = Granularity::Day.floor(Utc::now());
    let boundary = |k: i64| today - TimeDelta::days(k);
    if count_before(store, boundary(MAX_DAYS_BACK)).await? > 0 {
        bail!("the store holds runs older than {MAX_DAYS_BACK} days");
    }
    if count_before(store, today + TimeDelta::days(2)).await? == 0 {
        bail!("the store holds no runs: run `generate` first");
    }
    // Invariant: runs exist before boundary(lo) (or lo = -2); none before boundary(hi).
    let (mut lo, mut hi) = (-2i64, MAX_DAYS_BACK);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if count_before(store, boundary(mid)).await? > 0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(boundary(hi))
}

/// A task id from the middle of the data, found by a plain history call.
pub async fn some_task_id(store: &PgStore, oldest: DateTime<Utc>) -> Result<String> {
    let middle = oldest + (Utc::now() - oldest) / 2;
    let page = store
        .history(&HistoryQuery {
            start: Some(middle),
            end: Some(middle + TimeDelta::hours(1)),
            ..HistoryQuery::default()
        })
        .await?;
    page.items
        .first()
        .map(|run| run.state.task_id.clone())
        .context("no run found in the middle of the data")
}
