//! Writing a batch's error groups on PostgreSQL (planned in `core/groups.rs`): the group rows and
//! their failure rollups, in the batch's transaction. The runs' rows get their group's id as they
//! are written (`write.rs`, `bulk.rs`): a second write of each failed row would cost it a new
//! version in every index.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use tasklens_model::Fingerprint;

use crate::core::groups::{GroupChanges, GroupIds};
use crate::error::StoreError;

/// Adds each group's delta. A delta with a message brings a new failure: it replaces the latest
/// message when it is at least as new, and reopens a resolved group as a regression; an
/// ignored group stays ignored. Groups arrive in fingerprint order, so two batches lock shared
/// groups in the same order.
const GROUPS_SQL: &str = "\
INSERT INTO error_groups AS g (fingerprint_version, fingerprint_hash, task_name, error_type,
    message, traceback, first_seen, last_seen, total, state_changed_at)
SELECT v, h, n, et, m, tb, fs, ls, t, $10
FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[], $8::timestamptz[], $9::int8[]) AS u(v, h, n, et, m, tb, fs, ls, t)
ORDER BY v, h
ON CONFLICT (fingerprint_version, fingerprint_hash) DO UPDATE SET
    total = g.total + EXCLUDED.total,
    first_seen = least(g.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(g.last_seen, EXCLUDED.last_seen),
    error_type = CASE WHEN EXCLUDED.message IS NOT NULL AND EXCLUDED.last_seen >= g.last_seen
        THEN EXCLUDED.error_type ELSE g.error_type END,
    message = CASE WHEN EXCLUDED.message IS NOT NULL AND EXCLUDED.last_seen >= g.last_seen
        THEN EXCLUDED.message ELSE g.message END,
    traceback = CASE WHEN EXCLUDED.message IS NOT NULL AND EXCLUDED.last_seen >= g.last_seen
        THEN EXCLUDED.traceback ELSE g.traceback END,
    regression = g.regression OR (g.state = 'resolved' AND EXCLUDED.message IS NOT NULL),
    state_changed_at = CASE WHEN g.state = 'resolved' AND EXCLUDED.message IS NOT NULL
        THEN EXCLUDED.state_changed_at ELSE g.state_changed_at END,
    state = CASE WHEN g.state = 'resolved' AND EXCLUDED.message IS NOT NULL
        THEN 'open'::error_group_state ELSE g.state END
RETURNING g.id, g.fingerprint_version, g.fingerprint_hash, (g.xmax = 0) AS created";

const GROUP_ROLLUPS_SQL: &str = "\
INSERT INTO error_group_rollups AS r (group_id, granularity, bucket, failures)
SELECT id, g::rollup_granularity, b, n
FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::int8[]) AS u(id, g, b, n)
ON CONFLICT (group_id, granularity, bucket) DO UPDATE SET failures = r.failures + EXCLUDED.failures";

/// Writes the group rows and their failure rollups of `groups` (the plan's), before the runs'
/// rows, which are written with their group's id; returns the ids. A row the upsert inserted
/// has no `xmax` yet; one it updated has this transaction's.
pub(super) async fn upsert_groups(
    groups: &GroupChanges,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<GroupIds, StoreError> {
    let mut ids = GroupIds::default();
    if groups.groups.is_empty() {
        return Ok(ids);
    }
    let n = groups.groups.len();
    let (mut v, mut h, mut name, mut et, mut m, mut tb) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut fs, mut ls, mut total) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (fp, delta) in &groups.groups {
        v.push(i32::from(fp.version));
        h.push(fp.hash.as_str());
        name.push(delta.task_name.as_str());
        let latest = delta.latest.as_ref();
        et.push(latest.and_then(|l| l.error_type.as_deref()));
        m.push(latest.and_then(|l| l.message.as_deref()));
        tb.push(latest.and_then(|l| l.traceback.as_deref()));
        fs.push(delta.first_seen);
        ls.push(delta.last_seen);
        total.push(delta.total);
    }
    for row in sqlx::query(GROUPS_SQL)
        .bind(v)
        .bind(h)
        .bind(name)
        .bind(et)
        .bind(m)
        .bind(tb)
        .bind(fs)
        .bind(ls)
        .bind(total)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?
    {
        let version: i32 = row.try_get("fingerprint_version")?;
        ids.insert(
            i64::from(version),
            row.try_get("fingerprint_hash")?,
            row.try_get("id")?,
            row.try_get("created")?,
        )?;
    }
    let id_of = |fp: &Fingerprint| ids.id_of(fp);
    let (mut rid, mut rg, mut rb, mut rn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (fp, granularity, bucket, count) in groups.rollups() {
        rid.push(id_of(fp)?);
        rg.push(granularity.as_str());
        rb.push(bucket);
        rn.push(count);
    }
    if !rid.is_empty() {
        sqlx::query(GROUP_ROLLUPS_SQL)
            .bind(rid)
            .bind(rg)
            .bind(rb)
            .bind(rn)
            .execute(&mut **tx)
            .await?;
    }
    Ok(ids)
}
