//! Retention: one timed `maintain` that drops the oldest day.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use tasklens_model::Granularity;
use tasklens_store::{MaintenanceReport, PgStore, RetentionPolicy, TaskStore};

use super::data::count_before;

/// One `maintain` call that drops one day.
#[derive(Debug)]
pub struct RetentionStep {
    pub day: DateTime<Utc>,
    /// Runs created that day, before the drop.
    pub runs: i64,
    pub retention_days: u32,
    pub elapsed: Duration,
    pub report: MaintenanceReport,
}

/// Drops `day` (the oldest day with runs) with one timed `maintain` at now, whose retention puts
/// the cutoff at the end of that day.
async fn drop_day(store: &PgStore, day: DateTime<Utc>, days_ahead: u32) -> Result<RetentionStep> {
    let next = day + TimeDelta::days(1);
    let runs = count_before(store, next).await? - count_before(store, day).await?;
    let now = Utc::now();
    let days = (Granularity::Day.floor(now) - next).num_days();
    let retention_days = u32::try_from(days)
        .ok()
        .filter(|d| *d > 0)
        .context("the data spans too few days to drop one")?;
    let policy = RetentionPolicy {
        retention_days,
        days_ahead,
        now,
    };
    let started = Instant::now();
    let report = store.maintain(&policy).await?;
    let elapsed = started.elapsed();
    if report.skipped {
        bail!("retention was skipped: another process holds the maintenance lock");
    }
    eprintln!(
        "  dropped {} ({runs} runs) in {:.3} s: {report:?}",
        day.format("%Y-%m-%d"),
        elapsed.as_secs_f64()
    );
    Ok(RetentionStep {
        day,
        runs,
        retention_days,
        elapsed,
        report,
    })
}

/// Drops the oldest day; when that day is partial (fewer than half the runs of the next one),
/// drops it and then the next, full, day, so the last step is a full day.
pub async fn measure_retention(
    store: &PgStore,
    oldest: DateTime<Utc>,
    days_ahead: u32,
) -> Result<Vec<RetentionStep>> {
    let next = oldest + TimeDelta::days(1);
    let oldest_runs = count_before(store, next).await?;
    let next_runs = count_before(store, next + TimeDelta::days(1)).await? - oldest_runs;
    let mut steps = vec![drop_day(store, oldest, days_ahead).await?];
    if oldest_runs * 2 < next_runs {
        steps.push(drop_day(store, next, days_ahead).await?);
    }
    Ok(steps)
}
