//! The retention schedule against a real PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sqlx::PgPool;
use tasklens_collector::retention::run_schedule;
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{HistoryQuery, PgStore, TaskStore};

fn old_run() -> TaskRunEvent {
    let long_ago = Utc::now() - TimeDelta::days(45);
    TaskRunEvent {
        observed_at: long_ago,
        run: RunState {
            enqueued_at: Some(long_ago),
            ..RunState::new(
                RunKey {
                    source: SourceSystem::Celery,
                    task_id: "ancient".into(),
                    attempt: 0,
                },
                "scheduled_daily_digest",
                TaskStatus::Pending,
            )
        },
    }
}

async fn run_count(store: &PgStore) -> i64 {
    store
        .history(&HistoryQuery::default())
        .await
        .expect("history")
        .total_count
}

#[sqlx::test(migrations = "../migrations")]
async fn the_schedule_removes_expired_runs_and_stops_on_shutdown(pool: PgPool) {
    let store = PgStore::from_pool(pool);
    store.write_batch(vec![old_run()]).await.expect("write");
    assert_eq!(run_count(&store).await, 1);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let schedule = tokio::spawn(run_schedule(
        Arc::new(store.clone()) as Arc<dyn TaskStore>,
        30,
        Duration::from_millis(50),
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while run_count(&store).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired run was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), schedule)
        .await
        .expect("the schedule stops on shutdown")
        .expect("no panic");
}
