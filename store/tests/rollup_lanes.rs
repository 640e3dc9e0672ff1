//! Rollup lanes, PostgreSQL only: a writing transaction adds to rollup rows of its own lane, so
//! a batch never waits for another writer's uncommitted rollups, and readers sum the lanes.

mod common;

use std::time::Duration;
use tasklens_model::TaskTypeFilter;

use chrono::{DurationRound, TimeDelta};
use common::{Backend, Life, base_time, store};
use sqlx::PgPool;
use tasklens_model::Granularity;
use tasklens_store::TimeseriesQuery;

/// Resolves as soon as some session of this database waits for a lock.
async fn someone_waits_for_a_lock(pool: &PgPool) {
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_does_not_wait_for_another_writers_rollups_and_readers_sum_the_lanes(pool: PgPool) {
    let now = base_time();
    let store = store(&Backend::postgres(pool.clone()), now).await;
    let first = Life::new("lane-first", "send_email", now);
    store
        .write_batch(vec![first.finished()])
        .await
        .expect("first batch");

    // Another writer in the middle of its batch: it holds lane 0 (the lock class is the store's
    // "tlrl") and the rows it added to.
    let mut other = pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock(x'746c726c'::int, 0)")
        .execute(&mut *other)
        .await
        .expect("lane 0's lock");
    let held = sqlx::query("UPDATE task_rollups SET success = success WHERE lane = 0")
        .execute(&mut *other)
        .await
        .expect("lock lane 0's rows")
        .rows_affected();
    assert_eq!(held, 3, "the first run's minute, hour and day rows");

    // A batch for the same task type and the same buckets.
    let second = Life::new("lane-second", "send_email", now);
    tokio::select! {
        written = store.write_batch(vec![second.finished()]) => {
            written.expect("second batch");
        }
        () = someone_waits_for_a_lock(&pool) => {
            panic!("the batch waited for the other writer's rollup rows");
        }
    }
    other.commit().await.expect("commit");

    let lanes: Vec<i16> =
        sqlx::query_scalar("SELECT DISTINCT lane FROM task_rollups ORDER BY lane")
            .fetch_all(&pool)
            .await
            .expect("lanes");
    assert_eq!(lanes, [0, 1]);

    let minute = now.duration_trunc(TimeDelta::minutes(1)).expect("a minute");
    for granularity in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
        let points = store
            .timeseries(&TimeseriesQuery {
                start: minute - TimeDelta::days(1),
                end: Some(minute + TimeDelta::days(1)),
                task_type: TaskTypeFilter::task_name(Some("send_email")),
                granularity: Some(granularity),
            })
            .await
            .expect("timeseries");
        assert_eq!(points.len(), 1, "{granularity:?}: one point, lanes summed");
        assert_eq!(points[0].success, 2, "{granularity:?}");
        assert!(points[0].p50_duration_ms.is_some(), "{granularity:?}");
    }
    let metrics = store
        .metrics(now - TimeDelta::hours(1), &TaskTypeFilter::default())
        .await
        .expect("metrics");
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].success, 2);
    assert_eq!(metrics[0].total_executions, 2);
}
