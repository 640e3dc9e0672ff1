//! Storage figures for capacity planning and the benchmark (bytes per row).

use sqlx::{PgPool, Row};

use crate::error::StoreError;
use crate::maintenance::StorageStats;

pub(super) async fn storage_stats(pool: &PgPool) -> Result<StorageStats, StoreError> {
    let row = sqlx::query(
        "SELECT \
           (SELECT count(*) FROM task_execution_logs) AS runs, \
           (SELECT coalesce(sum(pg_table_size(i.inhrelid)), 0)::bigint FROM pg_inherits i \
              WHERE i.inhparent = 'task_execution_logs'::regclass) AS run_table_bytes, \
           (SELECT coalesce(sum(pg_indexes_size(i.inhrelid)), 0)::bigint FROM pg_inherits i \
              WHERE i.inhparent = 'task_execution_logs'::regclass) AS run_index_bytes, \
           pg_total_relation_size('task_run_keys') AS key_bytes, \
           pg_total_relation_size('task_rollups') AS rollup_bytes, \
           (SELECT count(*) FROM task_rollups) AS rollup_rows",
    )
    .fetch_one(pool)
    .await?;
    Ok(StorageStats {
        runs: row.try_get("runs")?,
        run_table_bytes: row.try_get("run_table_bytes")?,
        run_index_bytes: row.try_get("run_index_bytes")?,
        key_bytes: row.try_get("key_bytes")?,
        rollup_bytes: row.try_get("rollup_bytes")?,
        rollup_rows: row.try_get("rollup_rows")?,
    })
}
