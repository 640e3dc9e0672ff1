//! Unfinished runs on both backends: read oldest first through the in-flight index, and judged
//! stuck against thresholds learned from each task type's last week.

mod common;

use chrono::{TimeDelta, Utc};
use common::{Backend, Life, on_both_backends, store};
use sqlx::PgPool;
use tasklens_model::{StuckThresholds, TaskStatus, TaskTypeFilter, ThresholdSource};
use tasklens_store::HistoryQuery;

async fn unfinished_runs_are_read_oldest_first_and_judged_against_their_history(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let mut events = Vec::new();
    // History: embed_atoms_batch runs take 2 minutes, so its running threshold is 10 minutes;
    // its queue waits are 40 ms, so pending ones fall back to the 5-minute floor.
    for i in 0..20 {
        let mut life = Life::new(&format!("done-{i}"), "embed_atoms_batch", ago(600 + i));
        life.duration_ms = 120_000;
        events.extend(life.all());
    }
    let running = |id: &str, task: &str, minutes| {
        let life = Life::new(id, task, ago(minutes));
        vec![life.pending(), life.running()]
    };
    events.extend(running("slow-but-fine", "embed_atoms_batch", 8));
    events.extend(running("stuck-running", "embed_atoms_batch", 25));
    events.push(Life::new("stuck-pending", "embed_atoms_batch", ago(7)).pending());
    events.push(Life::new("fresh-pending", "embed_atoms_batch", ago(1)).pending());
    events.extend(running("digest", "scheduled_daily_digest", 20));
    events.extend(running("no-history", "ingest_telegram_messages", 6));
    store.write_batch(events).await.expect("write");

    let in_flight = store.in_flight(None, 100).await.expect("in flight");
    let ids: Vec<&str> = in_flight.iter().map(|r| r.task_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "stuck-running",
            "digest",
            "slow-but-fine",
            "stuck-pending",
            "no-history",
            "fresh-pending"
        ],
        "unfinished only, oldest first"
    );
    assert_eq!(
        store
            .in_flight(Some("scheduled_daily_digest"), 100)
            .await
            .expect("one type")
            .len(),
        1
    );
    assert_eq!(store.in_flight(None, 2).await.expect("limited").len(), 2);

    let thresholds = StuckThresholds::new(vec!["scheduled_*=30m".parse().expect("rule")]);
    let stuck = store
        .stuck_runs(&thresholds, &TaskTypeFilter::default(), now)
        .await
        .expect("stuck");
    let seen: Vec<(&str, TaskStatus, ThresholdSource, i64)> = stuck
        .iter()
        .map(|s| {
            (
                s.task_id.as_str(),
                s.status,
                s.threshold_source,
                s.threshold_ms,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "stuck-running",
                TaskStatus::Running,
                ThresholdSource::History,
                // 5 x the p99 of 2-minute runs, within the histogram's error.
                stuck[0].threshold_ms
            ),
            (
                "stuck-pending",
                TaskStatus::Pending,
                ThresholdSource::Floor,
                300_000
            ),
            (
                "no-history",
                TaskStatus::Running,
                ThresholdSource::Floor,
                300_000
            ),
        ]
    );
    let learned = stuck[0].threshold_ms as f64;
    assert!(
        (learned - 600_000.0).abs() <= 600_000.0 * 0.05,
        "learned threshold {learned} ms"
    );
    assert!(stuck[0].age_ms >= 24 * 60_000, "{:?}", stuck[0]);
    let one_type = store
        .stuck_runs(
            &thresholds,
            &TaskTypeFilter::task_name(Some("ingest_telegram_messages")),
            now,
        )
        .await
        .expect("stuck of one type");
    assert_eq!(one_type.len(), 1);

    // The history's in-flight filters answer the same runs.
    let pending = store
        .history(&HistoryQuery {
            status: Some(TaskStatus::Pending),
            ..Default::default()
        })
        .await
        .expect("pending");
    let mut ids: Vec<&str> = pending
        .items
        .iter()
        .map(|r| r.state.task_id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["fresh-pending", "stuck-pending"]);
    assert_eq!(pending.total_count, 2);
}

on_both_backends!(unfinished_runs_are_read_oldest_first_and_judged_against_their_history);

/// PostgreSQL's planner reaches the unfinished runs through the in-flight index, for the
/// history's status filter as the store writes it, even in a generic plan.
#[sqlx::test(migrations = "../migrations")]
async fn the_status_filter_of_unfinished_runs_uses_the_in_flight_index(pool: PgPool) {
    let now = Utc::now();
    let store = store(&Backend::postgres(pool.clone()), now).await;
    let events = (0..2_000)
        .flat_map(|i| Life::new(&format!("r{i}"), "score_message", now).all())
        .chain([Life::new("waiting", "score_message", now).pending()])
        .collect();
    store.write_batch(events).await.expect("write");
    let mut conn = pool.acquire().await.expect("connection");
    sqlx::query("ANALYZE task_execution_logs")
        .execute(&mut *conn)
        .await
        .expect("analyze");
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await
        .expect("generic plans");
    // The index on each partition, named by PostgreSQL: the partial ones.
    let in_flight_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indpred IS NOT NULL AND c.relname LIKE 'task_execution_logs_p%'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("partial indexes");
    assert!(!in_flight_indexes.is_empty());
    for status in ["pending", "running"] {
        let plan: Vec<String> = sqlx::query_scalar(
            "EXPLAIN SELECT id FROM task_execution_logs WHERE 1 = 1 \
             AND status = $1::task_status AND status IN ('pending', 'running') \
             ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(status)
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        assert!(
            in_flight_indexes
                .iter()
                .any(|index| plan.contains(&format!("using {index} on task_execution_logs_p"))),
            "an in-flight index ({in_flight_indexes:?}) serves {status}: {plan}"
        );
    }

    // And the store's own statements go through it (the server's statistics count the scans).
    let scans = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes \
             WHERE indexrelname = ANY($1)",
        )
        .bind(&in_flight_indexes)
        .fetch_one(&pool)
        .await
        .expect("index statistics")
    };
    let before = scans().await;
    let page = store
        .history(&HistoryQuery {
            status: Some(TaskStatus::Pending),
            ..Default::default()
        })
        .await
        .expect("pending");
    assert_eq!(page.items.len(), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while scans().await <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the history's pending filter did not scan the in-flight index"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
