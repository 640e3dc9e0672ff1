//! Free-text history on SQLite: the page in one query (the dialect's free-text condition reads
//! three indexes), and its count over the raw rows up to [`HistoryQuery::TEXT_COUNT_CAP`].

use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::rows::Lite;
use crate::error::StoreError;
use crate::query::{HistoryPage, HistoryQuery};
use crate::sql::{self, reads};

pub(super) async fn text_history(
    pool: &SqlitePool,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    let items = reads::history_rows::<Lite>(pool, query).await?;
    let mut qb =
        QueryBuilder::<Sqlite>::new("SELECT count(*) FROM (SELECT 1 FROM task_execution_logs");
    sql::push_history_filters::<Lite>(&mut qb, query);
    sql::push_newest_first::<Lite>(&mut qb, HistoryQuery::TEXT_COUNT_CAP + 1, 0);
    qb.push(")");
    let count: i64 = qb.build().fetch_one(pool).await?.try_get(0)?;
    let total = if count > HistoryQuery::TEXT_COUNT_CAP {
        (HistoryQuery::TEXT_COUNT_CAP, false)
    } else {
        (count, true)
    };
    Ok(HistoryPage::of(query, items, total))
}
