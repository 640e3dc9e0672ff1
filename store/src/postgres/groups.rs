//! Writing a batch's error groups on PostgreSQL (planned in `core/groups.rs`): the group rows,
//! their failure rollups and each changed run's group, in the batch's transaction.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use tasklens_model::Fingerprint;

use crate::core::groups::{GroupChanges, GroupIds};
use crate::error::StoreError;
use crate::live::NewErrorGroup;
use crate::runs::RunChange;

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

const RUN_GROUPS_SQL: &str = "\
UPDATE task_execution_logs AS t SET error_group_id = u.group_id
FROM unnest($1::int8[], $2::timestamptz[], $3::int8[]) AS u(id, created_at, group_id)
WHERE t.id = u.id AND t.created_at = u.created_at AND t.created_at >= $4 AND t.created_at <= $5";

/// Writes `groups` (the plan's) for `changes` (the plan's changes, ids assigned); returns the
/// groups it created, by change index. A row the upsert inserted has no `xmax` yet; one it
/// updated has this transaction's.
pub(super) async fn write_groups(
    changes: &[RunChange],
    groups: &GroupChanges,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<Vec<(usize, NewErrorGroup)>, StoreError> {
    if groups.assignments.is_empty() {
        return Ok(Vec::new());
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
    let mut ids = GroupIds::default();
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
    let (mut run_ids, mut created, mut group_ids) = (Vec::new(), Vec::new(), Vec::new());
    for (index, group) in &groups.assignments {
        let run = &changes
            .get(*index)
            .ok_or_else(|| StoreError::Corrupt(format!("no change {index} in the batch")))?
            .run;
        run_ids.push(run.id);
        created.push(run.created_at);
        group_ids.push(group.as_ref().map(id_of).transpose()?);
    }
    let low = created.iter().min().copied().unwrap_or_default();
    let high = created.iter().max().copied().unwrap_or_default();
    sqlx::query(RUN_GROUPS_SQL)
        .bind(run_ids)
        .bind(created)
        .bind(group_ids)
        .bind(low)
        .bind(high)
        .execute(&mut **tx)
        .await?;
    Ok(groups.new_groups(&ids))
}
