//! Adding a batch's figures to the rollup rows, on PostgreSQL: each writing transaction adds to
//! the rows of a lane of its own, so two batches never wait for each other's commit; readers
//! sum the lanes of a bucket.

use std::fmt::Write as _;

use sqlx::{Postgres, Transaction};
use tasklens_model::{RollupFigures, RollupKey};

use crate::error::StoreError;

/// The class (first key) of the transaction-scoped advisory locks that pick a rollup lane
/// ("tlrl" in ASCII). Maintenance's session lock uses the one-key form, a separate key space.
const ROLLUP_LANE_LOCK_CLASS: i32 = 0x746c_726c;

/// How many lanes a transaction tries before it shares lane 0 (and waits for its rows).
const ROLLUP_LANES: i32 = 64;

/// Adds a batch's rollup deltas to the rows of one lane: the first lane whose advisory lock
/// this transaction gets, held until it ends, so no two writing transactions share a lane's
/// rows and neither waits for the other's commit. Readers sum the lanes of a bucket.
const ROLLUP_SQL: &str = "\
WITH lane AS MATERIALIZED (
    SELECT coalesce((SELECT l FROM generate_series(0, $15 - 1) AS l
                     WHERE pg_try_advisory_xact_lock($14, l) LIMIT 1), 0)::smallint AS lane
)
INSERT INTO task_rollups AS r (granularity, bucket, task_name, service, environment, lane,
    pending, running, success, failed, duration_count, duration_sum_ms, duration_hist,
    wait_count, wait_sum_ms, wait_hist)
SELECT g::rollup_granularity, b, n, sv, en, lane.lane, p, ru, s, f, dc, ds, dh::bigint[], wc, ws,
    wh::bigint[]
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::int8[], $6::int8[],
    $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::int8[], $12::int8[], $13::text[],
    $16::text[], $17::text[])
    AS u(g, b, n, p, ru, s, f, dc, ds, dh, wc, ws, wh, sv, en), lane
ON CONFLICT (granularity, bucket, task_name, service, environment, lane) DO UPDATE SET
    pending = r.pending + EXCLUDED.pending,
    running = r.running + EXCLUDED.running,
    success = r.success + EXCLUDED.success,
    failed = r.failed + EXCLUDED.failed,
    duration_count = r.duration_count + EXCLUDED.duration_count,
    duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms,
    duration_hist = tasklens_hist_add(r.duration_hist, EXCLUDED.duration_hist),
    wait_count = r.wait_count + EXCLUDED.wait_count,
    wait_sum_ms = r.wait_sum_ms + EXCLUDED.wait_sum_ms,
    wait_hist = tasklens_hist_add(r.wait_hist, EXCLUDED.wait_hist)";

/// `{1,0,-2}`: a histogram as a PostgreSQL array literal (bound as text, cast in SQL).
fn array_literal(counts: &[i64]) -> String {
    let mut out = String::with_capacity(counts.len() * 3 + 2);
    out.push('{');
    for (i, count) in counts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{count}");
    }
    out.push('}');
    out
}

/// Adds each change to its row of this transaction's lane (one statement).
pub(super) async fn apply_rollups(
    changes: Vec<(RollupKey, RollupFigures)>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let n = changes.len();
    let (mut g, mut b, mut name) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut service, mut environment) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut counts: [Vec<i64>; 4] = Default::default();
    let (mut dc, mut ds, mut dh) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut wc, mut ws, mut wh) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (key, delta) in changes {
        g.push(key.granularity.as_str());
        b.push(key.bucket);
        name.push(key.task_type.task_name);
        service.push(key.task_type.service);
        environment.push(key.task_type.environment);
        for (column, count) in counts.iter_mut().zip(delta.status_counts) {
            column.push(count);
        }
        dc.push(delta.duration_count);
        ds.push(delta.duration_sum_ms);
        dh.push(array_literal(delta.duration_hist.counts()));
        wc.push(delta.wait_count);
        ws.push(delta.wait_sum_ms);
        wh.push(array_literal(delta.wait_hist.counts()));
    }
    let [pending, running, success, failed] = counts;
    sqlx::query(ROLLUP_SQL)
        .bind(g)
        .bind(b)
        .bind(name)
        .bind(pending)
        .bind(running)
        .bind(success)
        .bind(failed)
        .bind(dc)
        .bind(ds)
        .bind(dh)
        .bind(wc)
        .bind(ws)
        .bind(wh)
        .bind(ROLLUP_LANE_LOCK_CLASS)
        .bind(ROLLUP_LANES)
        .bind(service)
        .bind(environment)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_literals() {
        assert_eq!(array_literal(&[]), "{}");
        assert_eq!(array_literal(&[1, 0, -2]), "{1,0,-2}");
    }
}
