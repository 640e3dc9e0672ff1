//! Rebuilding the rollup rows of the days listed in `rollup_rebuilds` from their runs, after a
//! migration changed the rollup key (task types gained service and environment).

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tasklens_model::TaskTypeFilter;

use super::rollups::apply_rollups;
use super::rows::Pg;
use crate::core::figures::rollups_of_runs;
use crate::error::StoreError;
use crate::sql::{self, codec};

/// Rebuilds each listed day in a transaction of its own, oldest first; returns the days rebuilt
/// here. Writers wait on the table lock for the one day being rebuilt (their rollup deltas must
/// land either in the rebuilt rows' runs or after them); another process migrating at the same
/// time finds the days it waited for already gone from the list.
pub(super) async fn rebuild_rollups(pool: &PgPool) -> Result<u32, StoreError> {
    let days: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT day FROM rollup_rebuilds ORDER BY day")
            .fetch_all(pool)
            .await?;
    let mut rebuilt = 0;
    for day in days {
        let started = std::time::Instant::now();
        let next = day + TimeDelta::days(1);
        let mut tx = pool.begin().await?;
        sqlx::query("LOCK TABLE task_rollups IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let claimed = sqlx::query("DELETE FROM rollup_rebuilds WHERE day = $1")
            .bind(day)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            continue;
        }
        sqlx::query("DELETE FROM task_rollups WHERE bucket >= $1 AND bucket < $2")
            .bind(day)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        let everything = TaskTypeFilter::default();
        let mut qb = sql::raw_contributions::<Pg>(day, next, &everything);
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let runs = rows
            .iter()
            .map(codec::contribution::<Pg>)
            .collect::<Result<Vec<_>, _>>()?;
        let count = runs.len();
        apply_rollups(rollups_of_runs(runs), &mut tx).await?;
        tx.commit().await?;
        rebuilt += 1;
        tracing::info!(
            %day,
            runs = count,
            took_ms = started.elapsed().as_millis(),
            "rollups rebuilt by task type"
        );
    }
    Ok(rebuilt)
}
