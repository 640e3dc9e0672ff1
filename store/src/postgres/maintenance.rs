//! Partitions ahead of time, and retention by dropping whole days.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::{Connection, PgConnection, PgPool, Row};
use tasklens_model::Granularity;

use crate::error::StoreError;
use crate::maintenance::{MaintenanceReport, RetentionPolicy};

/// The advisory lock that makes maintenance run on one replica at a time ("tasklens" in ASCII).
const MAINTENANCE_LOCK: i64 = 0x7461_736b_6c65_6e73;
const PARTITION_PREFIX: &str = "task_execution_logs_p";
/// Expired run keys leave in batches of this size, so no single statement holds locks long.
const KEY_DELETE_BATCH: i64 = 50_000;
/// Join rows (`task_span_joins`) are kept at most this long.
const JOIN_HORIZON_DAYS: i64 = 7;

fn partition_name(day: NaiveDate) -> String {
    format!("{PARTITION_PREFIX}{}", day.format("%Y%m%d"))
}

fn partition_day(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix(PARTITION_PREFIX)?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// A timestamp as a SQL literal. Partition bounds cannot be bind parameters; these come from
/// dates computed here, never from input.
fn literal(ts: DateTime<Utc>) -> String {
    format!("'{}'", ts.format("%Y-%m-%d %H:%M:%S+00"))
}

async fn existing_partitions(conn: &mut PgConnection) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = sqlx::query(
        "SELECT c.relname::text AS name FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'task_execution_logs'::regclass",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut days = Vec::new();
    for row in rows {
        let name: String = row.try_get("name")?;
        days.extend(partition_day(&name));
    }
    days.sort();
    Ok(days)
}

/// Creates the partition of `day`. Rows of that day already in the default partition are moved
/// into it first (PostgreSQL refuses to create a partition whose rows sit in the default one).
async fn create_partition(conn: &mut PgConnection, day: NaiveDate) -> Result<u64, StoreError> {
    let name = partition_name(day);
    let (from, to) = (day_start(day), day_start(day) + TimeDelta::days(1));
    let mut tx = conn.begin().await?;
    // Creating a partition takes this lock anyway; taking it before looking into the default
    // partition means no writer can put a row of this day there between the look and the
    // create (which would fail the create: "updated partition constraint for default partition
    // would be violated"). Writers wait for the few milliseconds this takes, once a day.
    sqlx::query("LOCK TABLE task_execution_logs IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let waiting: bool = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM task_execution_logs_default \
         WHERE created_at >= $1 AND created_at < $2)",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    let mut moved = 0;
    if waiting {
        sqlx::query(&format!(
            "CREATE TABLE {name} (LIKE task_execution_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        ))
        .execute(&mut *tx)
        .await?;
        moved = sqlx::query(&format!(
            "WITH moved AS (DELETE FROM task_execution_logs_default \
             WHERE created_at >= $1 AND created_at < $2 RETURNING *) \
             INSERT INTO {name} SELECT * FROM moved"
        ))
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "ALTER TABLE task_execution_logs ATTACH PARTITION {name} FOR VALUES FROM ({}) TO ({})",
            literal(from),
            literal(to)
        ))
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(&format!(
            "CREATE TABLE {name} PARTITION OF task_execution_logs FOR VALUES FROM ({}) TO ({})",
            literal(from),
            literal(to)
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

async fn maintain_locked(
    conn: &mut PgConnection,
    policy: &RetentionPolicy,
) -> Result<MaintenanceReport, StoreError> {
    let mut report = MaintenanceReport::default();
    // DDL waits for a lock on the parent table; never queue writers behind it for long.
    sqlx::query("SET lock_timeout = '10s'")
        .execute(&mut *conn)
        .await?;
    let cutoff = policy.cutoff();
    let today = Granularity::Day.floor(policy.now).date_naive();
    let existing = existing_partitions(conn).await?;

    let first_needed = cutoff.date_naive().max(today - TimeDelta::days(1));
    let mut day = first_needed;
    while day <= today + TimeDelta::days(i64::from(policy.days_ahead)) {
        if existing.binary_search(&day).is_err() {
            report.rows_moved_from_default += create_partition(conn, day).await?;
            report.partitions_created.push(partition_name(day));
        }
        day += TimeDelta::days(1);
    }

    for day in existing {
        if day_start(day) + TimeDelta::days(1) <= cutoff {
            let name = partition_name(day);
            sqlx::query(&format!("DROP TABLE IF EXISTS {name}"))
                .execute(&mut *conn)
                .await?;
            report.partitions_dropped.push(name);
        }
    }

    report.default_rows_deleted =
        sqlx::query("DELETE FROM task_execution_logs_default WHERE created_at < $1")
            .bind(cutoff)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    loop {
        // Rows picked by tuple id: a Tid Scan per batch, where `run_key IN (SELECT ...)` was
        // planned as a hash join over the whole table, once per batch.
        let deleted = sqlx::query(
            "DELETE FROM task_run_keys WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM task_run_keys WHERE created_at < $1 LIMIT $2))",
        )
        .bind(cutoff)
        .bind(KEY_DELETE_BATCH)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        report.run_keys_deleted += deleted;
        if deleted < KEY_DELETE_BATCH.unsigned_abs() {
            break;
        }
    }
    // Join rows matter while a run's spans arrive: they leave with the runs' retention, or a
    // week after they were written, whichever comes first.
    let joins_cutoff = cutoff.max(policy.now - TimeDelta::days(JOIN_HORIZON_DAYS));
    loop {
        let deleted = sqlx::query(
            "DELETE FROM task_span_joins WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM task_span_joins WHERE created_at < $1 LIMIT $2))",
        )
        .bind(joins_cutoff)
        .bind(KEY_DELETE_BATCH)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        report.span_joins_deleted += deleted;
        if deleted < KEY_DELETE_BATCH.unsigned_abs() {
            break;
        }
    }
    report.rollup_rows_deleted = sqlx::query("DELETE FROM task_rollups WHERE bucket < $1")
        .bind(cutoff)
        .execute(&mut *conn)
        .await?
        .rows_affected();

    // PostgreSQL never analyzes a partitioned parent by itself, and a day's partition fills
    // from empty: fresh statistics keep the planner on the indexes. Yesterday is complete now.
    // Yesterday's partition is complete: give the planner its statistics, once. The job runs
    // every hour; analyzing the same 300,000-row day again each time would cost a sampled read
    // of it every hour for nothing.
    let yesterday = today - TimeDelta::days(1);
    let name = partition_name(yesterday);
    let analyzed_after_its_day: Option<bool> = sqlx::query_scalar(
        "SELECT coalesce(greatest(last_analyze, last_autoanalyze) >= $2, false) \
         FROM pg_stat_user_tables WHERE relname = $1",
    )
    .bind(&name)
    .bind(day_start(today))
    .fetch_optional(&mut *conn)
    .await?;
    if analyzed_after_its_day == Some(false) {
        sqlx::query(&format!("ANALYZE {name}"))
            .execute(&mut *conn)
            .await?;
        report.partitions_analyzed.push(name);
    }
    Ok(report)
}

pub(super) async fn maintain(
    pool: &PgPool,
    policy: &RetentionPolicy,
) -> Result<MaintenanceReport, StoreError> {
    // A connection of its own: the advisory lock belongs to the session that took it.
    let mut conn = pool.acquire().await?.detach();
    let locked: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
        .bind(MAINTENANCE_LOCK)
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    if !locked {
        return Ok(MaintenanceReport {
            skipped: true,
            ..MaintenanceReport::default()
        });
    }
    let result = maintain_locked(&mut conn, policy).await;
    // Unlocked before closing: the server ends a closed session after `close` returns, so a
    // maintenance right after this one (another replica, or this process again) would find the
    // lock still held and skip. Closing the detached session releases it if unlocking fails.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MAINTENANCE_LOCK)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    result
}

/// Every GIN index of the runs' partitions: the free-text (trigram) indexes. Read at each call,
/// so partitions created or dropped since are followed.
const FOLD_SEARCH_BACKLOG: &str = "\
SELECT coalesce(sum(gin_clean_pending_list(i.indexrelid)), 0)::int8 AS pages
FROM pg_inherits p
JOIN pg_index i ON i.indrelid = p.inhrelid
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
WHERE p.inhparent = 'task_execution_logs'::regclass AND a.amname = 'gin'";

/// Folds the GIN indexes' pending lists into the indexes. A write only appends to the pending
/// list; the write that finds it over `gin_pending_list_limit` folds it inline, several times
/// slower than a batch alone (BENCHMARKS.md). Folding here takes that work off the write
/// path: while an index is being folded here, a write that fills its list leaves the folding to
/// this call instead of doing it too (PostgreSQL lets one folder work on an index at a time, and
/// a write does not wait for it).
pub(super) async fn fold_search_backlog(pool: &PgPool) -> Result<u64, StoreError> {
    let pages: i64 = sqlx::query_scalar(FOLD_SEARCH_BACKLOG)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(pages).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid date");
        assert_eq!(partition_name(day), "task_execution_logs_p20261128");
        assert_eq!(partition_day(&partition_name(day)), Some(day));
        assert_eq!(partition_day("task_execution_logs_default"), None);
    }

    #[test]
    fn literals_are_utc() {
        let ts = day_start(NaiveDate::from_ymd_opt(2026, 1, 2).expect("valid date"));
        assert_eq!(literal(ts), "'2026-01-02 00:00:00+00'");
    }
}
