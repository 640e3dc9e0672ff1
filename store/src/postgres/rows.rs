//! PostgreSQL's spelling of the shared statements, and its row codecs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tasklens_model::Histogram;

use crate::error::StoreError;
use crate::query::{contains_pattern, prefix_pattern};
use crate::sql::Dialect;

/// The PostgreSQL dialect.
#[derive(Debug)]
pub(crate) struct Pg;

#[async_trait]
impl Dialect for Pg {
    type Db = Postgres;
    type Row = PgRow;

    const RUN_COLUMNS: &'static str = "id, created_at, updated_at, enqueued_at, started_at, \
         completed_at, attempt, status::text AS status, source::text AS source, task_name, \
         task_id, trace_id, span_id, queue, service_name, environment, worker_host, error_type, \
         params, error_message, error_traceback";
    const STATUS_TEXT: &'static str = "status::text AS status";
    const SOURCE_TEXT: &'static str = "source::text AS source";
    const GRANULARITY_CAST: &'static str = "::rollup_granularity";
    const STATUS_CAST: &'static str = "::task_status";
    const SOURCE_CAST: &'static str = "::task_source";
    const GROUP_STATE_CAST: &'static str = "::error_group_state";

    async fn fetch_all(
        pool: &PgPool,
        qb: &mut QueryBuilder<'_, Postgres>,
    ) -> Result<Vec<PgRow>, StoreError> {
        Ok(qb.build().fetch_all(pool).await?)
    }

    /// A generic plan, cached with the connection's prepared statement: PostgreSQL would
    /// otherwise re-plan every call over every partition, since a plan for the given binds
    /// looks cheaper than the generic one while it costs the planning each time.
    async fn fetch_all_in_flight(
        pool: &PgPool,
        qb: &mut QueryBuilder<'_, Postgres>,
    ) -> Result<Vec<PgRow>, StoreError> {
        let mut tx = pool.begin().await?;
        sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(&mut *tx)
            .await?;
        let rows = qb.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    fn push_text<'a>(qb: &mut QueryBuilder<'a, Postgres>, value: &'a str) {
        qb.push_bind(value);
    }

    fn push_time(qb: &mut QueryBuilder<'_, Postgres>, value: DateTime<Utc>) {
        qb.push_bind(value);
    }

    fn push_int(qb: &mut QueryBuilder<'_, Postgres>, value: i64) {
        qb.push_bind(value);
    }

    /// Task id exact or prefix (its btree index); error message and params' JSON text through
    /// their trigram indexes (the same expressions as the indexes).
    fn push_free_text(qb: &mut QueryBuilder<'_, Postgres>, text: &str) {
        qb.push(" AND (task_id = ")
            .push_bind(text.to_owned())
            .push(" OR task_id LIKE ")
            .push_bind(prefix_pattern(text))
            .push(" OR error_message ILIKE ")
            .push_bind(contains_pattern(text))
            .push(" OR (params::text) ILIKE ")
            .push_bind(contains_pattern(text))
            .push(")");
    }

    fn time(row: &PgRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
        Ok(row.try_get(column)?)
    }

    fn opt_time(row: &PgRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(row.try_get(column)?)
    }

    /// Histograms are `bigint[]`.
    fn histogram(row: &PgRow, column: &str) -> Result<Histogram, StoreError> {
        Ok(Histogram::from_counts(row.try_get(column)?))
    }

    /// Params are `jsonb`.
    fn params(row: &PgRow, column: &str) -> Result<Option<Value>, StoreError> {
        Ok(row.try_get(column)?)
    }
}
