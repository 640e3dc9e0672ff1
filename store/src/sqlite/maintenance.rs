//! Retention on SQLite: expired runs and rollup rows leave in bounded batches, each its own short
//! write transaction, so batch writes interleave with a large clean-up instead of waiting for it.

use sqlx::SqlitePool;
use tokio::sync::Mutex;

use super::rows::micros;
use crate::error::StoreError;
use crate::maintenance::{MaintenanceReport, RetentionPolicy};

/// Runs `sql` (a DELETE bound to the cutoff then the batch size) until a batch deletes fewer
/// rows than the batch size, taking the writer lock for each batch only. Returns the rows deleted.
async fn delete_in_batches(
    pool: &SqlitePool,
    writer: &Mutex<()>,
    sql: &str,
    cutoff: i64,
    batch_rows: i64,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let deleted = {
            let _writing = writer.lock().await;
            sqlx::query(sql)
                .bind(cutoff)
                .bind(batch_rows)
                .execute(pool)
                .await?
                .rows_affected()
        };
        total += deleted;
        if deleted < batch_rows.unsigned_abs() {
            return Ok(total);
        }
    }
}

pub(super) async fn maintain(
    pool: &SqlitePool,
    writer: &Mutex<()>,
    policy: &RetentionPolicy,
    batch_rows: i64,
) -> Result<MaintenanceReport, StoreError> {
    let cutoff = micros(policy.cutoff());
    // A run's identity is its row here (a unique index, no key table): the runs deleted are
    // reported as run keys deleted. There are no partitions to create, drop or move rows from.
    let run_keys_deleted = delete_in_batches(
        pool,
        writer,
        "DELETE FROM task_execution_logs WHERE id IN \
         (SELECT id FROM task_execution_logs WHERE created_at < ?1 LIMIT ?2)",
        cutoff,
        batch_rows,
    )
    .await?;
    let rollup_rows_deleted = delete_in_batches(
        pool,
        writer,
        "DELETE FROM task_rollups WHERE (granularity, bucket, task_name) IN \
         (SELECT granularity, bucket, task_name FROM task_rollups WHERE bucket < ?1 LIMIT ?2)",
        cutoff,
        batch_rows,
    )
    .await?;
    {
        // Refreshes the planner's statistics where they are stale; cheap when they are not.
        let _writing = writer.lock().await;
        sqlx::query("PRAGMA optimize").execute(pool).await?;
    }
    Ok(MaintenanceReport {
        run_keys_deleted,
        rollup_rows_deleted,
        ..MaintenanceReport::default()
    })
}
