//! Writing a batch's error groups on PostgreSQL (planned in `core/groups.rs`), in the batch's
//! transaction: first the groups' ids (creating new groups), so the runs' rows are written with
//! them (`write.rs`, `bulk.rs`; a second write of each failed row would cost it a new version in
//! every index); then, late, the failures added to the groups and their rollups.

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
INSERT INTO error_groups AS g (fingerprint_version, fingerprint_hash, task_name, service,
    environment, error_type, message, traceback, first_seen, last_seen, total, state_changed_at)
SELECT v, h, n, s, e, et, m, tb, fs, ls, t, $12
FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::int8[])
    AS u(v, h, n, s, e, et, m, tb, fs, ls, t)
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
";

/// Creates the batch's groups that do not exist yet, with no failures counted (`GROUPS_SQL`
/// adds them at the end of the batch), returning those it created. It takes no lock on an
/// existing group, so writers that share groups do not wait on each other until the end.
const NEW_GROUPS_SQL: &str = "\
INSERT INTO error_groups AS g (fingerprint_version, fingerprint_hash, task_name, service,
    environment, error_type, message, traceback, first_seen, last_seen, total, state_changed_at)
SELECT v, h, n, s, e, et, m, tb, fs, ls, 0, $11
FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
    AS u(v, h, n, s, e, et, m, tb, fs, ls)
ORDER BY v, h
ON CONFLICT (fingerprint_version, fingerprint_hash) DO NOTHING
RETURNING g.id, g.fingerprint_version, g.fingerprint_hash";

/// The ids of existing groups (a statement of its own, so it sees a group another writer
/// committed while `NEW_GROUPS_SQL` waited for it).
const GROUP_IDS_SQL: &str = "\
SELECT g.id, g.fingerprint_version, g.fingerprint_hash
FROM error_groups g JOIN unnest($1::int4[], $2::text[]) AS u(v, h)
    ON g.fingerprint_version = u.v AND g.fingerprint_hash = u.h";

const GROUP_ROLLUPS_SQL: &str = "\
INSERT INTO error_group_rollups AS r (group_id, granularity, bucket, failures)
SELECT id, g::rollup_granularity, b, n
FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::int8[]) AS u(id, g, b, n)
ON CONFLICT (group_id, granularity, bucket) DO UPDATE SET failures = r.failures + EXCLUDED.failures";

/// The column arrays of the batch's groups, in fingerprint order.
#[derive(Default)]
struct GroupColumns<'a> {
    version: Vec<i32>,
    hash: Vec<&'a str>,
    task_name: Vec<&'a str>,
    service: Vec<&'a str>,
    environment: Vec<&'a str>,
    error_type: Vec<Option<&'a str>>,
    message: Vec<Option<&'a str>>,
    traceback: Vec<Option<&'a str>>,
    first_seen: Vec<DateTime<Utc>>,
    last_seen: Vec<DateTime<Utc>>,
    total: Vec<i64>,
}

impl<'a> GroupColumns<'a> {
    fn of(groups: &'a GroupChanges) -> Self {
        let mut c = GroupColumns::default();
        for (fp, delta) in &groups.groups {
            let latest = delta.latest.as_ref();
            c.version.push(i32::from(fp.version));
            c.hash.push(fp.hash.as_str());
            c.task_name.push(delta.task_type.task_name.as_str());
            c.service.push(delta.task_type.service.as_str());
            c.environment.push(delta.task_type.environment.as_str());
            c.error_type
                .push(latest.and_then(|l| l.error_type.as_deref()));
            c.message.push(latest.and_then(|l| l.message.as_deref()));
            c.traceback
                .push(latest.and_then(|l| l.traceback.as_deref()));
            c.first_seen.push(delta.first_seen);
            c.last_seen.push(delta.last_seen);
            c.total.push(delta.total);
        }
        c
    }
}

fn record_ids(
    rows: Vec<sqlx::postgres::PgRow>,
    created: bool,
    ids: &mut GroupIds,
) -> Result<(), StoreError> {
    for row in rows {
        let version: i32 = row.try_get("fingerprint_version")?;
        ids.insert(
            i64::from(version),
            row.try_get("fingerprint_hash")?,
            row.try_get("id")?,
            created,
        )?;
    }
    Ok(())
}

/// The ids of the batch's groups, creating those that do not exist yet (the runs' rows are
/// written with them). Which groups it created is how a new group is announced.
pub(super) async fn group_ids(
    groups: &GroupChanges,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<GroupIds, StoreError> {
    let mut ids = GroupIds::default();
    if groups.groups.is_empty() {
        return Ok(ids);
    }
    let c = GroupColumns::of(groups);
    let created = sqlx::query(NEW_GROUPS_SQL)
        .bind(&c.version)
        .bind(&c.hash)
        .bind(&c.task_name)
        .bind(&c.service)
        .bind(&c.environment)
        .bind(&c.error_type)
        .bind(&c.message)
        .bind(&c.traceback)
        .bind(&c.first_seen)
        .bind(&c.last_seen)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
    let all_new = created.len() == c.version.len();
    record_ids(created, true, &mut ids)?;
    if !all_new {
        let (version, hash): (Vec<i32>, Vec<&str>) = groups
            .groups
            .keys()
            .filter(|fp| ids.id_of(fp).is_err())
            .map(|fp| (i32::from(fp.version), fp.hash.as_str()))
            .unzip();
        let existing = sqlx::query(GROUP_IDS_SQL)
            .bind(version)
            .bind(hash)
            .fetch_all(&mut **tx)
            .await?;
        record_ids(existing, false, &mut ids)?;
    }
    Ok(ids)
}

/// Adds the batch's failures to its groups (`ids` from [`group_ids`]) and their rollups. Late in
/// the transaction: the group rows stay locked for as short a time as possible.
pub(super) async fn add_to_groups(
    groups: &GroupChanges,
    ids: &GroupIds,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), StoreError> {
    if groups.groups.is_empty() {
        return Ok(());
    }
    let c = GroupColumns::of(groups);
    sqlx::query(GROUPS_SQL)
        .bind(c.version)
        .bind(c.hash)
        .bind(c.task_name)
        .bind(c.service)
        .bind(c.environment)
        .bind(c.error_type)
        .bind(c.message)
        .bind(c.traceback)
        .bind(c.first_seen)
        .bind(c.last_seen)
        .bind(c.total)
        .bind(now)
        .execute(&mut **tx)
        .await?;
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
    Ok(())
}
