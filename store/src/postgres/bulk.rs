//! Bulk import by binary COPY: the fastest way in, for backfills and for the benchmark's
//! baseline. It bypasses the merge: rows must be new runs.

use std::collections::HashSet;

use sqlx::{PgPool, Row};
use tasklens_model::{Contribution, RollupChanges};

use super::copy::{COPY_KEYS, COPY_RUNS, CopyBuffer, encode_run};
use super::groups::{add_to_groups, group_ids};
use super::rollups::apply_rollups;
use crate::core::batch::batch_time;
use crate::core::groups::GroupChanges;
use crate::error::StoreError;
use crate::runs::StoredRun;

/// Reserves `n` ids from the runs' sequence.
pub(super) async fn reserve_ids(pool: &PgPool, n: usize) -> Result<Vec<i64>, StoreError> {
    let n = i64::try_from(n).map_err(|_| StoreError::InvalidQuery("too many ids".into()))?;
    let rows =
        sqlx::query("SELECT nextval('task_execution_logs_id_seq') FROM generate_series(1, $1)")
            .bind(n)
            .fetch_all(pool)
            .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Binary COPY of the rows alone: no identity, no rollups. The benchmark's baseline.
pub(super) async fn copy_rows(pool: &PgPool, runs: &[StoredRun]) -> Result<u64, StoreError> {
    let mut buf = CopyBuffer::new();
    for run in runs {
        encode_run(&mut buf, run, None);
    }
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw(COPY_RUNS).await?;
    copy.send(buf.finish()).await?;
    Ok(copy.finish().await?)
}

/// Imports new runs completely (rows, identities, rollups, error groups) in one transaction.
/// Imports publish no live events.
pub(super) async fn import_runs(pool: &PgPool, runs: &[StoredRun]) -> Result<u64, StoreError> {
    let mut keys = HashSet::with_capacity(runs.len());
    let mut rows = CopyBuffer::new();
    let mut identities = CopyBuffer::new();
    let mut rollups = RollupChanges::default();
    // The plan's change indices are the runs' indices here.
    let mut groups = GroupChanges::default();
    for (index, run) in runs.iter().enumerate() {
        let digest = run.state.key().digest();
        if !keys.insert(digest) {
            return Err(StoreError::InvalidQuery(format!(
                "run {} appears twice in one import",
                run.state.key()
            )));
        }
        identities.tuple(3);
        identities.raw(digest.as_bytes());
        identities.i64(Some(run.id));
        identities.time(Some(run.created_at));
        rollups.record(run.created_at, None, &Contribution::of(&run.state));
        groups.record(index, run.created_at, None, &run.state);
    }
    let mut tx = pool.begin().await?;
    let now = batch_time();
    let group_ids = group_ids(&groups, now, &mut tx).await?;
    for (run, group) in runs.iter().zip(groups.row_groups(&group_ids, runs.len())?) {
        encode_run(&mut rows, run, group.flatten());
    }
    let mut copy = tx.copy_in_raw(COPY_KEYS).await?;
    copy.send(identities.finish()).await?;
    copy.finish().await?;
    let mut copy = tx.copy_in_raw(COPY_RUNS).await?;
    copy.send(rows.finish()).await?;
    let written = copy.finish().await?;
    add_to_groups(&groups, &group_ids, now, &mut tx).await?;
    apply_rollups(rollups.into_changes(), &mut tx).await?;
    tx.commit().await?;
    Ok(written)
}
