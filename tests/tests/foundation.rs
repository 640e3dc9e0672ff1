//! End to end across crates: the `tasklens` command prepares a fresh database, runs arrive
//! through the store out of order, the collector's retention schedule keeps the window, and the
//! dashboard's queries agree with what was written.

use std::sync::Arc;
use std::time::Duration;
use tasklens_model::TaskTypeFilter;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tasklens_collector::retention::run_schedule;
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{HistoryQuery, PgStore, PgStoreOptions, TaskStore};

fn url_of(pool: &PgPool) -> String {
    format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().expect("a database")
    )
}

fn events(task_id: &str, t0: DateTime<Utc>, failure: Option<&str>) -> Vec<TaskRunEvent> {
    let key = RunKey {
        source: SourceSystem::Celery,
        task_id: task_id.to_owned(),
        attempt: 0,
    };
    let base = |status| RunState::new(key.clone(), "ingest_telegram_messages", status);
    let started = t0 + TimeDelta::milliseconds(250);
    let completed = started + TimeDelta::milliseconds(1500);
    let finished = RunState {
        started_at: Some(started),
        completed_at: Some(completed),
        error_message: failure.map(str::to_owned),
        ..base(if failure.is_some() {
            TaskStatus::Failed
        } else {
            TaskStatus::Success
        })
    };
    vec![
        // Finished first: exporters batch, and the network reorders.
        TaskRunEvent {
            observed_at: completed,
            run: finished,
        },
        TaskRunEvent {
            observed_at: t0,
            run: RunState {
                enqueued_at: Some(t0),
                params: Some(serde_json::json!({"chat_id": 42})),
                ..base(TaskStatus::Pending)
            },
        },
        TaskRunEvent {
            observed_at: started,
            run: RunState {
                started_at: Some(started),
                ..base(TaskStatus::Running)
            },
        },
    ]
}

#[sqlx::test(migrations = false)]
async fn a_fresh_database_to_dashboard_figures(pool: PgPool) {
    let url = url_of(&pool);
    let mut out = Vec::new();
    tasklens::run(["tasklens", "migrate", "--database-url", &url], &mut out)
        .await
        .expect("migrate");
    assert!(String::from_utf8_lossy(&out).contains("partitions created"));

    let store = PgStore::connect(&url, &PgStoreOptions::default())
        .await
        .expect("connect");
    let now = Utc::now();
    let mut batch = Vec::new();
    for i in 0..10 {
        let failure = (i == 3).then_some("Telegram API flood wait");
        batch.extend(events(
            &format!("tg-{i}"),
            now - TimeDelta::minutes(i),
            failure,
        ));
    }
    // Expired before it arrives: retention must remove it.
    batch.extend(events("tg-old", now - TimeDelta::days(40), None));
    store.write_batch(batch).await.expect("write");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let schedule = tokio::spawn(run_schedule(
        Arc::new(store.clone()) as Arc<dyn TaskStore>,
        30,
        Duration::from_millis(100),
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = store
            .history(&HistoryQuery::default())
            .await
            .expect("history");
        // The page and its count are two reads: a retention run committing between them can
        // show one before and one after. Wait until both agree that the old run is gone.
        if page.total_count == 10 && page.items.iter().all(|r| r.state.task_id != "tg-old") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    schedule.await.expect("schedule stops");

    let metrics = store
        .metrics(now - TimeDelta::hours(24), &TaskTypeFilter::default())
        .await
        .expect("metrics");
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    assert_eq!((m.total_executions, m.success, m.failed), (10, 9, 1));
    assert_eq!(m.success_rate, 90.0);
    assert_eq!(m.avg_duration_ms, Some(1500.0));

    let failed = store
        .history(&HistoryQuery {
            text: Some("flood".into()),
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(failed.total_count, 1);
    let detail = store
        .run(failed.items[0].id)
        .await
        .expect("run")
        .expect("exists");
    assert_eq!(detail.run.state.status, TaskStatus::Failed);
    assert_eq!(
        detail.run.state.params,
        Some(serde_json::json!({"chat_id": 42}))
    );
    assert_eq!(detail.run.queue_wait_ms(), Some(250));
}
