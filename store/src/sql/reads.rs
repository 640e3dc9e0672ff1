//! The dashboard's reads, written once over a [`Dialect`]: each builds its statement, runs it on
//! the pool and decodes the rows.

use chrono::{DateTime, Utc};
use sqlx::{Pool, QueryBuilder};
use tasklens_model::{BucketSpan, Contribution, RollupFigures, TaskType, TaskTypeFilter};

use super::{Columns, Dialect, codec};
use crate::core::stuck::InFlightRun;
use crate::error::StoreError;
use crate::query::{HistoryQuery, TimeseriesRange};
use crate::runs::{AttemptSummary, StoredRun};

type DbPool<D> = Pool<<D as Dialect>::Db>;

pub(crate) async fn rollup_rows<D: Dialect>(
    pool: &DbPool<D>,
    spans: &[BucketSpan],
    filter: &TaskTypeFilter,
) -> Result<Vec<(TaskType, RollupFigures)>, StoreError> {
    let mut qb = super::rollup_rows::<D>(spans, filter);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(codec::typed_rollup::<D>).collect()
}

pub(crate) async fn raw_contributions<D: Dialect>(
    pool: &DbPool<D>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: &TaskTypeFilter,
) -> Result<Vec<(DateTime<Utc>, Contribution)>, StoreError> {
    let mut qb = super::raw_contributions::<D>(from, to, filter);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(codec::contribution::<D>).collect()
}

pub(crate) async fn history_rows<D: Dialect>(
    pool: &DbPool<D>,
    query: &HistoryQuery,
) -> Result<Vec<StoredRun>, StoreError> {
    let mut qb = super::history_page::<D>(query);
    let rows = if query.status.is_some_and(|s| !s.is_finished()) {
        D::fetch_all_in_flight(pool, &mut qb).await?
    } else {
        D::fetch_all(pool, &mut qb).await?
    };
    rows.iter().map(codec::stored_run::<D>).collect()
}

/// How many runs a history query matches, counted over the runs themselves: for the queries
/// whose runs an index finds without a day's rows (one error group's, the unfinished ones).
pub(crate) async fn history_count<D: Dialect>(
    pool: &DbPool<D>,
    query: &HistoryQuery,
) -> Result<i64, StoreError> {
    let mut qb = QueryBuilder::new("SELECT count(*) AS n FROM task_execution_logs");
    super::push_history_filters::<D>(&mut qb, query);
    let rows = if query.status.is_some_and(|s| !s.is_finished()) {
        D::fetch_all_in_flight(pool, &mut qb).await?
    } else {
        D::fetch_all(pool, &mut qb).await?
    };
    rows.first()
        .map(|row| row.int("n"))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub(crate) async fn in_flight_rows<D: Dialect>(
    pool: &DbPool<D>,
    task_name: Option<&str>,
    limit: i64,
) -> Result<Vec<InFlightRun>, StoreError> {
    let mut qb = super::in_flight_runs::<D>(task_name, limit);
    let rows = D::fetch_all_in_flight(pool, &mut qb).await?;
    rows.iter().map(codec::in_flight_run::<D>).collect()
}

pub(crate) async fn run_row<D: Dialect>(
    pool: &DbPool<D>,
    id: i64,
) -> Result<Option<StoredRun>, StoreError> {
    let mut qb = super::run_by_id::<D>(id);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.first().map(codec::stored_run::<D>).transpose()
}

pub(crate) async fn other_attempts<D: Dialect>(
    pool: &DbPool<D>,
    run: &StoredRun,
) -> Result<Vec<AttemptSummary>, StoreError> {
    let mut qb = super::other_attempts::<D>(run.state.source.as_str(), &run.state.task_id, run.id);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(codec::attempt_summary::<D>).collect()
}

pub(crate) async fn timeseries_rows<D: Dialect>(
    pool: &DbPool<D>,
    range: &TimeseriesRange,
    filter: &TaskTypeFilter,
) -> Result<Vec<(DateTime<Utc>, TaskType, RollupFigures)>, StoreError> {
    let mut qb = super::timeseries_rows::<D>(range, filter);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(codec::bucket_rollup::<D>).collect()
}

pub(crate) async fn task_types<D: Dialect>(
    pool: &DbPool<D>,
    filter: &TaskTypeFilter,
) -> Result<Vec<TaskType>, StoreError> {
    let mut qb = super::task_types::<D>(filter);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(codec::task_type::<D>).collect()
}

pub(crate) async fn ping<D: Dialect>(pool: &DbPool<D>) -> Result<(), StoreError> {
    D::fetch_all(pool, &mut QueryBuilder::new("SELECT 1")).await?;
    Ok(())
}
