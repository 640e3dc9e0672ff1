//! Writing a batch's error groups on SQLite, with the rules of the PostgreSQL write
//! (`postgres/groups.rs`): group rows, their failure rollups and each changed run's group.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{Row, Sqlite, Transaction};
use tasklens_model::Fingerprint;

use super::rows::micros;
use crate::core::groups::{GroupChanges, GroupIds};
use crate::error::StoreError;
use crate::live::NewErrorGroup;
use crate::runs::RunChange;

/// See `postgres/groups.rs`: a delta with a message brings a new failure (latest message,
/// reopening a resolved group as a regression); `WHERE true`: see `write.rs`.
const GROUPS_SQL: &str = "\
INSERT INTO error_groups AS g (fingerprint_version, fingerprint_hash, task_name, service,
    environment, error_type, message, traceback, first_seen, last_seen, total, state_changed_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
    value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, ?2
FROM json_each(?1) WHERE true
ON CONFLICT (fingerprint_version, fingerprint_hash) DO UPDATE SET
    total = g.total + excluded.total,
    first_seen = min(g.first_seen, excluded.first_seen),
    last_seen = max(g.last_seen, excluded.last_seen),
    error_type = CASE WHEN excluded.message IS NOT NULL AND excluded.last_seen >= g.last_seen
        THEN excluded.error_type ELSE g.error_type END,
    message = CASE WHEN excluded.message IS NOT NULL AND excluded.last_seen >= g.last_seen
        THEN excluded.message ELSE g.message END,
    traceback = CASE WHEN excluded.message IS NOT NULL AND excluded.last_seen >= g.last_seen
        THEN excluded.traceback ELSE g.traceback END,
    regression = g.regression OR (g.state = 'resolved' AND excluded.message IS NOT NULL),
    state_changed_at = CASE WHEN g.state = 'resolved' AND excluded.message IS NOT NULL
        THEN excluded.state_changed_at ELSE g.state_changed_at END,
    state = CASE WHEN g.state = 'resolved' AND excluded.message IS NOT NULL
        THEN 'open' ELSE g.state END
RETURNING id, fingerprint_version, fingerprint_hash";

/// Which of the batch's groups exist already (the writer lock keeps them so until the commit).
const EXISTING_GROUPS_SQL: &str = "\
SELECT fingerprint_version, fingerprint_hash FROM error_groups
WHERE (fingerprint_version, fingerprint_hash) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?1))";

const GROUP_ROLLUPS_SQL: &str = "\
INSERT INTO error_group_rollups AS r (group_id, granularity, bucket, failures)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1) WHERE true
ON CONFLICT (group_id, granularity, bucket) DO UPDATE SET failures = r.failures + excluded.failures";

const RUN_GROUPS_SQL: &str = "\
UPDATE task_execution_logs AS t SET error_group_id = u.value ->> 1
FROM json_each(?1) AS u WHERE t.id = u.value ->> 0";

/// Writes `groups` (the plan's) for `changes` (the plan's changes, ids assigned); returns the
/// groups it created, by change index.
pub(super) async fn write_groups(
    changes: &[RunChange],
    groups: &GroupChanges,
    now: DateTime<Utc>,
    tx: &mut Transaction<'_, Sqlite>,
) -> Result<Vec<(usize, NewErrorGroup)>, StoreError> {
    if groups.assignments.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<Value> = groups
        .groups
        .keys()
        .map(|fp| json!([fp.version, fp.hash]))
        .collect();
    let mut existing = HashSet::new();
    for row in sqlx::query(EXISTING_GROUPS_SQL)
        .bind(Value::Array(keys).to_string())
        .fetch_all(&mut **tx)
        .await?
    {
        let version: i64 = row.try_get("fingerprint_version")?;
        let hash: String = row.try_get("fingerprint_hash")?;
        existing.insert((version, hash));
    }
    let rows: Vec<Value> = groups
        .groups
        .iter()
        .map(|(fp, delta)| {
            let latest = delta.latest.as_ref();
            json!([
                fp.version,
                fp.hash,
                delta.task_type.task_name,
                delta.task_type.service,
                delta.task_type.environment,
                latest.and_then(|l| l.error_type.as_deref()),
                latest.and_then(|l| l.message.as_deref()),
                latest.and_then(|l| l.traceback.as_deref()),
                micros(delta.first_seen),
                micros(delta.last_seen),
                delta.total,
            ])
        })
        .collect();
    let mut ids = GroupIds::default();
    for row in sqlx::query(GROUPS_SQL)
        .bind(Value::Array(rows).to_string())
        .bind(micros(now))
        .fetch_all(&mut **tx)
        .await?
    {
        let version: i64 = row.try_get("fingerprint_version")?;
        let hash: String = row.try_get("fingerprint_hash")?;
        let created = !existing.contains(&(version, hash.clone()));
        ids.insert(version, hash, row.try_get("id")?, created)?;
    }
    let id_of = |fp: &Fingerprint| ids.id_of(fp);
    let rollups = groups
        .rollups()
        .map(|(fp, granularity, bucket, n)| {
            Ok(json!([id_of(fp)?, granularity.as_str(), micros(bucket), n]))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if !rollups.is_empty() {
        sqlx::query(GROUP_ROLLUPS_SQL)
            .bind(Value::Array(rollups).to_string())
            .execute(&mut **tx)
            .await?;
    }
    let runs: Vec<Value> = changes
        .iter()
        .zip(groups.row_groups(&ids, changes.len())?)
        .filter_map(|(change, group)| group.map(|group| json!([change.run.id, group])))
        .collect();
    sqlx::query(RUN_GROUPS_SQL)
        .bind(Value::Array(runs).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(groups.new_groups(&ids))
}
