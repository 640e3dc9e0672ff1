//! The error groups' reads and their state change, written once over a [`Dialect`]: groups from
//! `error_groups`, failures over time from `error_group_rollups` (never the runs), a group's
//! latest runs through `task_execution_logs.error_group_id`.

use chrono::{DateTime, Utc};
use sqlx::{Pool, QueryBuilder};
use tasklens_model::{Granularity, TaskTypeFilter};

use super::{Columns, Dialect, codec};
use crate::error::StoreError;
use crate::error_groups::{ErrorGroup, ErrorGroupState};
use crate::runs::StoredRun;

type DbPool<D> = Pool<<D as Dialect>::Db>;

/// The columns [`group`] reads (the state as text, the flag as 0 or 1 on both databases).
const GROUP_COLUMNS: &str = "id, task_name, service, environment, error_type, message, traceback, first_seen, \
     last_seen, total, CAST(state AS text) AS state, \
     CASE WHEN regression THEN 1 ELSE 0 END AS regression, state_changed_at";

/// [`GROUP_COLUMNS`] but the traceback, which only a group's detail shows.
const LIST_COLUMNS: &str = "id, task_name, service, environment, error_type, message, CAST(NULL AS text) AS traceback, \
     first_seen, last_seen, total, CAST(state AS text) AS state, \
     CASE WHEN regression THEN 1 ELSE 0 END AS regression, state_changed_at";

/// At most this many groups in a window, the most recently seen.
pub(crate) const MAX_GROUPS: i64 = 500;

fn group<D: Dialect>(row: &D::Row) -> Result<ErrorGroup, StoreError> {
    let state: String = row.text("state")?;
    Ok(ErrorGroup {
        id: row.int("id")?,
        task_name: row.text("task_name")?,
        service: Some(row.text("service")?).filter(|s| !s.is_empty()),
        environment: Some(row.text("environment")?).filter(|s| !s.is_empty()),
        error_type: row.opt_text("error_type")?,
        message: row.opt_text("message")?,
        traceback: row.opt_text("traceback")?,
        first_seen: D::time(row, "first_seen")?,
        last_seen: D::time(row, "last_seen")?,
        total: row.int("total")?,
        state: state
            .parse()
            .map_err(|e: crate::error_groups::UnknownGroupState| {
                StoreError::Corrupt(e.to_string())
            })?,
        regression: row.int4("regression")? != 0,
        state_changed_at: D::time(row, "state_changed_at")?,
    })
}

/// The groups seen since `since` of the task types `filter` admits, most recently seen first,
/// without their tracebacks.
pub(crate) async fn groups_since<D: Dialect>(
    pool: &DbPool<D>,
    since: DateTime<Utc>,
    filter: &TaskTypeFilter,
) -> Result<Vec<ErrorGroup>, StoreError> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {LIST_COLUMNS} FROM error_groups WHERE last_seen >= "
    ));
    D::push_time(&mut qb, since);
    super::push_rollup_filter::<D>(&mut qb, filter);
    qb.push(" ORDER BY last_seen DESC, id DESC LIMIT ");
    D::push_int(&mut qb, MAX_GROUPS);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(group::<D>).collect()
}

/// The group rollup rows at `granularity` from the bucket `from` on of the groups seen since
/// `since` of the task types `filter` admits: (group id, bucket, failures). One statement
/// whatever the groups, so it is prepared once.
pub(crate) async fn window_rollups<D: Dialect>(
    pool: &DbPool<D>,
    since: DateTime<Utc>,
    filter: &TaskTypeFilter,
    granularity: Granularity,
    from: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, i64)>, StoreError> {
    let mut qb = QueryBuilder::new(
        "SELECT r.group_id, r.bucket, r.failures FROM error_group_rollups r \
         JOIN error_groups g ON g.id = r.group_id WHERE g.last_seen >= ",
    );
    D::push_time(&mut qb, since);
    super::push_rollup_filter::<D>(&mut qb, filter);
    qb.push(" AND r.granularity = ");
    D::push_text(&mut qb, granularity.as_str());
    qb.push(D::GRANULARITY_CAST);
    qb.push(" AND r.bucket >= ");
    D::push_time(&mut qb, from);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.int("group_id")?,
                D::time(row, "bucket")?,
                row.int("failures")?,
            ))
        })
        .collect()
}

pub(crate) async fn group_by_id<D: Dialect>(
    pool: &DbPool<D>,
    id: i64,
) -> Result<Option<ErrorGroup>, StoreError> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {GROUP_COLUMNS} FROM error_groups WHERE id = "
    ));
    D::push_int(&mut qb, id);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.first().map(group::<D>).transpose()
}

/// A group's latest runs, newest first, through the group index.
pub(crate) async fn group_runs<D: Dialect>(
    pool: &DbPool<D>,
    id: i64,
    limit: i64,
) -> Result<Vec<StoredRun>, StoreError> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM task_execution_logs WHERE error_group_id = ",
        D::RUN_COLUMNS
    ));
    D::push_int(&mut qb, id);
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ");
    D::push_int(&mut qb, limit);
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.iter().map(codec::stored_run::<D>).collect()
}

/// Sets a group's state by hand (which clears its regression mark); None for an unknown id.
pub(crate) async fn set_group_state<D: Dialect>(
    pool: &DbPool<D>,
    id: i64,
    state: ErrorGroupState,
    now: DateTime<Utc>,
) -> Result<Option<ErrorGroup>, StoreError> {
    let mut qb = QueryBuilder::new("UPDATE error_groups SET state = ");
    D::push_text(&mut qb, state.as_str());
    qb.push(D::GROUP_STATE_CAST);
    qb.push(", regression = (1 = 0), state_changed_at = ");
    D::push_time(&mut qb, now);
    qb.push(" WHERE id = ");
    D::push_int(&mut qb, id);
    qb.push(format!(" RETURNING {GROUP_COLUMNS}"));
    let rows = D::fetch_all(pool, &mut qb).await?;
    rows.first().map(group::<D>).transpose()
}
