//! Retention on both backends (whole days on PostgreSQL, batched deletes on SQLite); partitions
//! ahead of time and the advisory lock, PostgreSQL only.

mod common;

use chrono::{TimeDelta, Utc};
use common::{Backend, Life, all_runs, base_time, on_both_backends, store};
use sqlx::PgPool;
use tasklens_model::Granularity;
use tasklens_model::TaskTypeFilter;
use tasklens_store::RetentionPolicy;

async fn partitions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'task_execution_logs'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("partitions")
}

// PostgreSQL only: partitions.
#[sqlx::test(migrations = "../migrations")]
async fn migrate_then_maintain_prepares_today_and_the_coming_days(pool: PgPool) {
    let now = base_time(); // 2026-11-28
    let _store = store(&Backend::postgres(pool.clone()), now).await;
    assert_eq!(
        partitions(&pool).await,
        [
            "task_execution_logs_default",
            "task_execution_logs_p20261127",
            "task_execution_logs_p20261128",
            "task_execution_logs_p20261129",
            "task_execution_logs_p20261130",
            "task_execution_logs_p20261201",
        ]
    );
}

async fn retention_drops_whole_days_and_everything_that_refers_to_them(backend: Backend) {
    let start = base_time();
    let store = store(&backend, start).await;
    // One run a day for five days, each day's partition created as the days pass; plus one
    // run that landed in the default partition (its day had no partition).
    for day in 0..5 {
        let now = start + TimeDelta::days(day);
        store
            .maintain(&RetentionPolicy {
                now,
                ..RetentionPolicy::new(30)
            })
            .await
            .expect("maintain");
        let life = Life::new(&format!("day-{day}"), "scheduled_daily_digest", now);
        store.write_batch(life.all()).await.expect("write");
    }
    let stray = Life::new(
        "stray",
        "scheduled_daily_digest",
        start - TimeDelta::days(10),
    );
    store.write_batch(stray.all()).await.expect("write");
    if let Backend::Postgres(pg) = &backend {
        let in_default: i64 =
            sqlx::query_scalar("SELECT count(*) FROM task_execution_logs_default")
                .fetch_one(pg.pool())
                .await
                .expect("count");
        assert_eq!(in_default, 1);
    }
    assert_eq!(all_runs(&store).await.len(), 6);

    // Keep 2 days, seen from day 4: days 0 and 1 and the stray run leave.
    let policy = RetentionPolicy {
        now: start + TimeDelta::days(4),
        ..RetentionPolicy::new(2)
    };
    let report = store.maintain(&policy).await.expect("maintain");
    assert!(!report.skipped);
    match &backend {
        Backend::Postgres(pg) => {
            assert_eq!(
                report.partitions_dropped,
                [
                    "task_execution_logs_p20261127",
                    "task_execution_logs_p20261128",
                    "task_execution_logs_p20261129",
                ]
            );
            assert_eq!(report.default_rows_deleted, 1);
            // Read back from the catalogue, not from the report: the tables are gone.
            let partitions: Vec<String> = sqlx::query_scalar(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'task_execution_logs'::regclass ORDER BY 1",
            )
            .fetch_all(pg.pool())
            .await
            .expect("partitions from pg_inherits");
            for dropped in &report.partitions_dropped {
                assert!(!partitions.contains(dropped), "{dropped} in {partitions:?}");
            }
            assert!(
                partitions.contains(&"task_execution_logs_p20261130".to_owned()),
                "the kept days stay: {partitions:?}"
            );
            let tables: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname = ANY($1)")
                    .bind(&report.partitions_dropped)
                    .fetch_one(pg.pool())
                    .await
                    .expect("pg_class");
            assert_eq!(tables, 0, "no table left behind, attached or not");
        }
        Backend::Sqlite { .. } => {
            // No partitions: every expired row is deleted, counted with its identity below.
            assert!(report.partitions_dropped.is_empty() && report.partitions_created.is_empty());
            assert_eq!(report.default_rows_deleted, 0);
        }
    }
    assert_eq!(report.run_keys_deleted, 3);
    assert!(report.rollup_rows_deleted > 0);

    let left: Vec<String> = all_runs(&store)
        .await
        .into_iter()
        .map(|r| r.state.task_id)
        .collect();
    assert_eq!(left, ["day-4", "day-3", "day-2"]);
    // Rollups forgot the dropped days: metrics over 30 days see the three runs left.
    let metrics = store
        .metrics(start - TimeDelta::days(30), &TaskTypeFilter::default())
        .await
        .expect("metrics");
    assert_eq!(metrics[0].total_executions, 3);
    assert_eq!(
        policy.cutoff(),
        Granularity::Day.floor(start + TimeDelta::days(2))
    );
}

// PostgreSQL only: the advisory lock between replicas.
#[sqlx::test(migrations = "../migrations")]
async fn only_one_maintenance_runs_at_a_time(pool: PgPool) {
    let store = store(&Backend::postgres(pool.clone()), Utc::now()).await;
    // Another replica holds the lock.
    let mut other = pool.acquire().await.expect("connection");
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(8386110886357855859)")
        .fetch_one(&mut *other)
        .await
        .expect("lock");
    assert!(held);
    let report = store
        .maintain(&RetentionPolicy::new(30))
        .await
        .expect("maintain");
    assert!(report.skipped);
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut *other)
        .await
        .expect("unlock");
    let report = store
        .maintain(&RetentionPolicy::new(30))
        .await
        .expect("maintain");
    assert!(!report.skipped);
}

on_both_backends!(retention_drops_whole_days_and_everything_that_refers_to_them);

// PostgreSQL only: partitions. Writers keep putting runs of a day that has no partition yet
// into the default partition while maintenance creates that day's partition: it must neither
// fail nor lose a run.
#[sqlx::test(migrations = "../migrations")]
async fn a_partition_is_created_while_writers_fill_its_day(pool: PgPool) {
    let now = base_time();
    let store = store(&Backend::postgres(pool.clone()), now).await;
    let later = now + TimeDelta::days(20); // no partition yet: runs land in the default one
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..3 {
        let (store, stop) = (store.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut written = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || written == 0 {
                let batch = (0..20)
                    .flat_map(|i| {
                        Life::new(&format!("w{writer}-{written}-{i}"), "score_message", later).all()
                    })
                    .collect();
                store.write_batch(batch).await.expect("write");
                written += 1;
            }
            written * 20
        }));
    }
    // Maintenance starts once the writers have put runs into the default partition.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let in_default: i64 =
            sqlx::query_scalar("SELECT count(*) FROM task_execution_logs_default")
                .fetch_one(&pool)
                .await
                .expect("count");
        if in_default > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no run reached the default partition in 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let report = store
        .maintain(&RetentionPolicy {
            now: later,
            ..RetentionPolicy::new(30)
        })
        .await
        .expect("maintenance succeeds while writers write");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut expected = 0;
    for writer in writers {
        expected += writer.await.expect("writer");
    }
    assert!(
        report
            .partitions_created
            .contains(&format!("task_execution_logs_p{}", later.format("%Y%m%d"))),
        "{report:?}"
    );
    assert!(report.rows_moved_from_default > 0, "{report:?}");
    assert_eq!(all_runs(&store).await.len(), expected);
    let left_in_default: i64 =
        sqlx::query_scalar("SELECT count(*) FROM task_execution_logs_default")
            .fetch_one(&pool)
            .await
            .expect("count");
    let created_day_rows: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM task_execution_logs_p{}",
        later.format("%Y%m%d")
    ))
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(
        left_in_default + created_day_rows,
        i64::try_from(expected).expect("fits")
    );
}

// PostgreSQL only: planner statistics. The hourly job analyzes yesterday's partition once.
#[sqlx::test(migrations = "../migrations")]
async fn yesterdays_partition_is_analyzed_once_not_every_hour(pool: PgPool) {
    let now = base_time();
    let store = Backend::postgres(pool.clone()).store();
    let maintain_at = |now| {
        let store = store.clone();
        async move {
            store
                .maintain(&RetentionPolicy {
                    now,
                    ..RetentionPolicy::new(30)
                })
                .await
                .expect("maintain")
        }
    };
    let yesterday = format!(
        "task_execution_logs_p{}",
        (now - TimeDelta::days(1)).format("%Y%m%d")
    );
    let first = maintain_at(now).await;
    assert_eq!(first.partitions_analyzed, [yesterday]);
    let an_hour_later = maintain_at(now + TimeDelta::hours(1)).await;
    assert!(
        an_hour_later.partitions_analyzed.is_empty(),
        "{an_hour_later:?}"
    );
    // The next day, the day that just ended is analyzed.
    let tomorrow = maintain_at(now + TimeDelta::days(1)).await;
    assert_eq!(
        tomorrow.partitions_analyzed,
        [format!("task_execution_logs_p{}", now.format("%Y%m%d"))]
    );
}

/// The runs a free-text search finds, as sorted task ids.
async fn found(store: &common::Store, text: &str) -> Vec<String> {
    let page = store
        .history(&tasklens_store::HistoryQuery {
            text: Some(text.into()),
            page_size: 200,
            ..Default::default()
        })
        .await
        .expect("history");
    let mut ids: Vec<String> = page.items.into_iter().map(|r| r.state.task_id).collect();
    ids.sort();
    ids
}

// PostgreSQL only: the GIN pending lists (SQLite's indexes take their entries at once).
#[sqlx::test(migrations = "../migrations")]
async fn waiting_free_text_entries_are_folded_and_found_before_and_after(pool: PgPool) {
    let now = Utc::now();
    let store = store(&Backend::postgres(pool), now).await;
    let mut events = Vec::new();
    for i in 0..300 {
        let mut life = Life::new(&format!("fold-{i:03}"), "score_message", now);
        if i % 3 == 0 {
            life.failure = Some(format!("upstream quota {i:03} exhausted"));
        }
        events.extend(life.all());
    }
    store.write_batch(events).await.expect("write");

    // Params hold the task id ({"task": "fold-..."}); errors the quota text.
    let by_params = found(&store, "\"fold-12").await;
    let by_error = found(&store, "QUOTA 03").await;
    assert_eq!(by_params.len(), 10, "{by_params:?}"); // fold-120 .. fold-129
    assert_eq!(by_error, ["fold-030", "fold-033", "fold-036", "fold-039"]);

    let folded = store.fold_search_backlog().await.expect("fold");
    assert!(
        folded > 0,
        "the batch's entries waited in the pending lists"
    );
    assert_eq!(store.fold_search_backlog().await.expect("fold again"), 0);

    assert_eq!(found(&store, "\"fold-12").await, by_params);
    assert_eq!(found(&store, "QUOTA 03").await, by_error);
}
