//! The statements both databases share, written once over a [`Dialect`]: what differs between
//! them (how a value is bound or read back, the casts PostgreSQL's enum columns need, how free
//! text is searched) is the dialect's; the statement's shape is here.

pub(crate) mod codec;
pub(crate) mod groups;
pub(crate) mod reads;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Pool, QueryBuilder};
use tasklens_model::{BucketSpan, Histogram, TaskTypeFilter};

use crate::error::StoreError;
use crate::query::{HistoryQuery, TimeseriesRange};

/// A row of a dialect's database.
pub(crate) type Row<D> = <D as Dialect>::Row;

/// How one database spells what the shared statements need.
#[async_trait]
pub(crate) trait Dialect: Send + Sync + 'static {
    type Db: sqlx::Database<Row = Self::Row>;
    type Row: sqlx::Row<Database = Self::Db> + Columns;

    /// The run columns in a SELECT list, as [`codec::stored_run`] reads them.
    const RUN_COLUMNS: &'static str;
    /// The status column, read as text.
    const STATUS_TEXT: &'static str;
    /// The source column, read as text.
    const SOURCE_TEXT: &'static str;
    /// Appended to a bound text compared with the granularity, status or source column.
    const GRANULARITY_CAST: &'static str;
    const STATUS_CAST: &'static str;
    const SOURCE_CAST: &'static str;
    const GROUP_STATE_CAST: &'static str;

    /// Runs a built statement on the pool.
    async fn fetch_all(
        pool: &Pool<Self::Db>,
        qb: &mut QueryBuilder<'_, Self::Db>,
    ) -> Result<Vec<Self::Row>, StoreError>;

    /// Runs a statement over the in-flight index. It reads every partition whatever its binds,
    /// so a plan made for its binds is no better than one made once, and making it is most of
    /// the statement's time where there are many partitions: such a dialect plans it once per
    /// connection.
    async fn fetch_all_in_flight(
        pool: &Pool<Self::Db>,
        qb: &mut QueryBuilder<'_, Self::Db>,
    ) -> Result<Vec<Self::Row>, StoreError> {
        Self::fetch_all(pool, qb).await
    }

    fn push_text<'a>(qb: &mut QueryBuilder<'a, Self::Db>, value: &'a str);
    fn push_time(qb: &mut QueryBuilder<'_, Self::Db>, value: DateTime<Utc>);
    fn push_int(qb: &mut QueryBuilder<'_, Self::Db>, value: i64);
    /// ` AND (...)`: the runs whose task id is `text` or starts with it, or whose error message
    /// or params contain it, case-insensitively.
    fn push_free_text(qb: &mut QueryBuilder<'_, Self::Db>, text: &str);

    fn time(row: &Row<Self>, column: &str) -> Result<DateTime<Utc>, StoreError>;
    fn opt_time(row: &Row<Self>, column: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn histogram(row: &Row<Self>, column: &str) -> Result<Histogram, StoreError>;
    fn params(row: &Row<Self>, column: &str) -> Result<Option<Value>, StoreError>;
}

/// Typed columns that every database decodes the same way.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn int4(&self, column: &str) -> Result<i32, StoreError>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

impl<R> Columns for R
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int4(&self, column: &str) -> Result<i32, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// The figures columns of `task_rollups`, as [`codec::rollup_figures`] reads them.
pub(crate) const ROLLUP_FIGURES: &str = "task_name, service, environment, pending, running, \
     success, failed, duration_count, duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist";

/// The task types with runs, from the day rollups, as [`codec::task_type`] reads them.
pub(crate) fn task_types<'a, D: Dialect>(filter: &'a TaskTypeFilter) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(
        "SELECT task_name, service, environment FROM task_rollups WHERE granularity = 'day'",
    );
    push_rollup_filter::<D>(&mut qb, filter);
    qb.push(
        " GROUP BY task_name, service, environment \
         HAVING sum(pending + running + success + failed) > 0 \
         ORDER BY task_name, service, environment",
    );
    qb
}

/// The rollup rows of some bucket spans, optionally of one task type.
pub(crate) fn rollup_rows<'a, D: Dialect>(
    spans: &[BucketSpan],
    filter: &'a TaskTypeFilter,
) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!("SELECT {ROLLUP_FIGURES} FROM task_rollups WHERE ("));
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        qb.push("(granularity = ");
        D::push_text(&mut qb, span.granularity.as_str());
        qb.push(D::GRANULARITY_CAST).push(" AND bucket >= ");
        D::push_time(&mut qb, span.from);
        if let Some(to) = span.to {
            qb.push(" AND bucket < ");
            D::push_time(&mut qb, to);
        }
        qb.push(")");
    }
    qb.push(")");
    push_rollup_filter::<D>(&mut qb, filter);
    qb
}

/// What each run created in `[from, to)` adds to the figures, as
/// [`codec::contribution`] reads it.
pub(crate) fn raw_contributions<'a, D: Dialect>(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: &'a TaskTypeFilter,
) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT created_at, task_name, service_name, environment, {}, duration_ms, \
         queue_wait_ms FROM task_execution_logs WHERE created_at >= ",
        D::STATUS_TEXT
    ));
    D::push_time(&mut qb, from);
    qb.push(" AND created_at < ");
    D::push_time(&mut qb, to);
    push_run_filter::<D>(&mut qb, filter);
    qb
}

/// The rollup rows of a chart, ordered by bucket then task type.
pub(crate) fn timeseries_rows<'a, D: Dialect>(
    range: &TimeseriesRange,
    filter: &'a TaskTypeFilter,
) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT bucket, {ROLLUP_FIGURES} FROM task_rollups WHERE granularity = "
    ));
    D::push_text(&mut qb, range.granularity.as_str());
    qb.push(D::GRANULARITY_CAST).push(" AND bucket >= ");
    D::push_time(&mut qb, range.from);
    qb.push(" AND bucket < ");
    D::push_time(&mut qb, range.to);
    push_rollup_filter::<D>(&mut qb, filter);
    qb.push(" ORDER BY bucket, task_name, service, environment");
    qb
}

fn push_task_name<'a, D: Dialect>(qb: &mut QueryBuilder<'a, D::Db>, task_name: Option<&'a str>) {
    if let Some(name) = task_name {
        qb.push(" AND task_name = ");
        D::push_text(qb, name);
    }
}

/// ` AND ...`: a task-type filter over rollup rows (or error groups), where '' stands for a run
/// that did not say.
pub(super) fn push_rollup_filter<'a, D: Dialect>(
    qb: &mut QueryBuilder<'a, D::Db>,
    filter: &'a TaskTypeFilter,
) {
    push_task_name::<D>(qb, filter.task_name.as_deref());
    for (column, value) in [
        ("service", &filter.service),
        ("environment", &filter.environment),
    ] {
        if let Some(value) = value {
            qb.push(" AND ").push(column).push(" = ");
            D::push_text(qb, value);
        }
    }
}

/// ` AND ...`: a task-type filter over runs, whose columns are null where a run did not say.
fn push_run_filter<'a, D: Dialect>(qb: &mut QueryBuilder<'a, D::Db>, filter: &'a TaskTypeFilter) {
    push_run_fields::<D>(
        qb,
        filter.task_name.as_deref(),
        filter.service.as_deref(),
        filter.environment.as_deref(),
    );
}

fn push_run_fields<'a, D: Dialect>(
    qb: &mut QueryBuilder<'a, D::Db>,
    task_name: Option<&'a str>,
    service: Option<&'a str>,
    environment: Option<&'a str>,
) {
    push_task_name::<D>(qb, task_name);
    for (column, value) in [("service_name", service), ("environment", environment)] {
        match value {
            Some("") => {
                qb.push(" AND ").push(column).push(" IS NULL");
            }
            Some(value) => {
                qb.push(" AND ").push(column).push(" = ");
                D::push_text(qb, value);
            }
            None => {}
        }
    }
}

/// ` WHERE ...`: the history's filters, free text included.
pub(crate) fn push_history_filters<'a, D: Dialect>(
    qb: &mut QueryBuilder<'a, D::Db>,
    query: &'a HistoryQuery,
) {
    qb.push(" WHERE 1 = 1");
    push_run_fields::<D>(
        qb,
        query.task_name.as_deref(),
        query.service.as_deref(),
        query.environment.as_deref(),
    );
    if let Some(status) = query.status {
        qb.push(" AND status = ");
        D::push_text(qb, status.as_str());
        qb.push(D::STATUS_CAST);
        if !status.is_finished() {
            // Literal, so that the planner sees the in-flight index's predicate in every plan.
            qb.push(" AND ").push(IN_FLIGHT);
        }
    }
    if let Some(start) = query.start {
        qb.push(" AND created_at >= ");
        D::push_time(qb, start);
    }
    if let Some(end) = query.end {
        qb.push(" AND created_at < ");
        D::push_time(qb, end);
    }
    if let Some(group) = query.error_group {
        qb.push(" AND error_group_id = ");
        D::push_int(qb, group);
    }
    if let Some(text) = query.free_text() {
        D::push_free_text(qb, text);
    }
}

/// ` ORDER BY ... LIMIT ... OFFSET ...`: newest first, one page.
pub(crate) fn push_newest_first<D: Dialect>(
    qb: &mut QueryBuilder<'_, D::Db>,
    limit: i64,
    offset: i64,
) {
    qb.push(" ORDER BY created_at DESC, id DESC LIMIT ");
    D::push_int(qb, limit);
    if offset > 0 {
        qb.push(" OFFSET ");
        D::push_int(qb, offset);
    }
}

/// The page of runs a history query asks for.
pub(crate) fn history_page<'a, D: Dialect>(query: &'a HistoryQuery) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM task_execution_logs",
        D::RUN_COLUMNS
    ));
    push_history_filters::<D>(&mut qb, query);
    push_newest_first::<D>(&mut qb, i64::from(query.page_size), query.offset());
    qb
}

/// The predicate of the in-flight index (`task_execution_logs_in_flight_idx`), written as the
/// index's own `WHERE`: the few unfinished runs, found without reading finished ones.
pub(crate) const IN_FLIGHT: &str = "status IN ('pending', 'running')";

/// Unfinished runs, oldest first, through the in-flight index, as [`codec::in_flight_run`]
/// reads them.
pub(crate) fn in_flight_runs<'a, D: Dialect>(
    task_name: Option<&'a str>,
    limit: i64,
) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT id, created_at, enqueued_at, started_at, attempt, {}, {}, task_name, \
         service_name, environment, task_id FROM task_execution_logs WHERE {IN_FLIGHT}",
        D::STATUS_TEXT,
        D::SOURCE_TEXT
    ));
    push_task_name::<D>(&mut qb, task_name);
    qb.push(" ORDER BY created_at, id LIMIT ");
    D::push_int(&mut qb, limit);
    qb
}

/// One run by id.
pub(crate) fn run_by_id<'a, D: Dialect>(id: i64) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM task_execution_logs WHERE id = ",
        D::RUN_COLUMNS
    ));
    D::push_int(&mut qb, id);
    qb
}

/// The other attempts of a run's task id, as [`codec::attempt_summary`] reads them.
pub(crate) fn other_attempts<'a, D: Dialect>(
    source: &'a str,
    task_id: &'a str,
    id: i64,
) -> QueryBuilder<'a, D::Db> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT id, attempt, {}, created_at, started_at, completed_at, duration_ms, \
         error_message FROM task_execution_logs WHERE task_id = ",
        D::STATUS_TEXT
    ));
    D::push_text(&mut qb, task_id);
    qb.push(" AND source = ");
    D::push_text(&mut qb, source);
    qb.push(D::SOURCE_CAST).push(" AND id <> ");
    D::push_int(&mut qb, id);
    qb.push(" ORDER BY attempt, created_at");
    qb
}
