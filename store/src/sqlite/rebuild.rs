//! Rebuilding the rollup rows of the days listed in `rollup_rebuilds` from their runs (see the
//! PostgreSQL store's `rebuild.rs`). It runs when the store opens, before anything writes.

use chrono::{TimeDelta, Utc};
use sqlx::SqlitePool;
use tasklens_model::TaskTypeFilter;

use super::rows::{Lite, micros, timestamp};
use super::write::apply_rollups;
use crate::core::figures::rollups_of_runs;
use crate::error::StoreError;
use crate::sql::{self, codec};

/// Rebuilds each listed day in a transaction of its own; returns the days rebuilt.
pub(super) async fn rebuild_rollups(pool: &SqlitePool) -> Result<u32, StoreError> {
    let days: Vec<i64> = sqlx::query_scalar("SELECT day FROM rollup_rebuilds ORDER BY day")
        .fetch_all(pool)
        .await?;
    let mut rebuilt = 0;
    for day in days {
        let from = timestamp(day)?;
        let to = from + TimeDelta::days(1);
        let started = std::time::Instant::now();
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM task_rollups WHERE bucket >= ?1 AND bucket < ?2")
            .bind(day)
            .bind(micros(to))
            .execute(&mut *tx)
            .await?;
        let everything = TaskTypeFilter::default();
        let mut qb = sql::raw_contributions::<Lite>(from, to, &everything);
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let runs = rows
            .iter()
            .map(codec::contribution::<Lite>)
            .collect::<Result<Vec<_>, _>>()?;
        let count = runs.len();
        apply_rollups(rollups_of_runs(runs), &mut tx).await?;
        sqlx::query("DELETE FROM rollup_rebuilds WHERE day = ?1")
            .bind(day)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rebuilt += 1;
        tracing::info!(
            day = %from.with_timezone(&Utc),
            runs = count,
            took_ms = started.elapsed().as_millis(),
            "rollups rebuilt by task type"
        );
    }
    Ok(rebuilt)
}
