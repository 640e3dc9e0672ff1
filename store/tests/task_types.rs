//! Task types: one task name in two services (or environments) keeps figures of its own on
//! every read, the reads take service and environment filters, and rollups written before the
//! rollup key had a service are rebuilt from their runs.

mod common;

use chrono::TimeDelta;
use common::{Backend, Life, Store, base_time, on_both_backends, store};
use tasklens_model::{StuckThresholds, TaskRunEvent, TaskType, TaskTypeFilter};
use tasklens_store::{HistoryQuery, PgStore, SqliteStore, TaskMetrics, TimeseriesQuery};

/// A run of `task` that a worker of `service` (in `environment`) ran to success.
fn ran_in(
    id: &str,
    task: &str,
    service: Option<&str>,
    environment: Option<&str>,
) -> Vec<TaskRunEvent> {
    let life = Life::new(id, task, base_time() - TimeDelta::minutes(30));
    let mut events = life.all();
    for event in &mut events {
        if event.run.started_at.is_some() {
            event.run.service_name = service.map(str::to_owned);
            event.run.environment = environment.map(str::to_owned);
        }
    }
    events
}

fn only(service: Option<&str>, environment: Option<&str>) -> TaskTypeFilter {
    TaskTypeFilter {
        task_name: None,
        service: service.map(str::to_owned),
        environment: environment.map(str::to_owned),
    }
}

fn summary(metrics: &[TaskMetrics]) -> Vec<(String, Option<String>, Option<String>, i64)> {
    metrics
        .iter()
        .map(|m| {
            (
                m.task_name.clone(),
                m.service.clone(),
                m.environment.clone(),
                m.total_executions,
            )
        })
        .collect()
}

fn row(
    task: &str,
    service: Option<&str>,
    environment: Option<&str>,
    runs: i64,
) -> (String, Option<String>, Option<String>, i64) {
    (
        task.to_owned(),
        service.map(str::to_owned),
        environment.map(str::to_owned),
        runs,
    )
}

async fn write_two_services(store: &Store) {
    let mut events = Vec::new();
    for i in 0..3 {
        events.extend(ran_in(
            &format!("b{i}"),
            "send_email",
            Some("billing"),
            Some("prod"),
        ));
    }
    events.extend(ran_in("w0", "send_email", Some("web"), Some("prod")));
    events.extend(ran_in("s0", "send_email", Some("web"), Some("staging")));
    // Enqueued, no worker yet: the task type does not know its service.
    let waiting = Life::new("p0", "send_email", base_time() - TimeDelta::minutes(10));
    events.push(waiting.pending());
    store.write_batch(events).await.expect("write");
}

async fn one_task_name_in_two_services_is_two_task_types(backend: Backend) {
    let now = base_time();
    let store = store(&backend, now).await;
    write_two_services(&store).await;
    let since = now - TimeDelta::hours(24);

    let all = store
        .metrics(since, &TaskTypeFilter::default())
        .await
        .expect("metrics");
    assert_eq!(
        summary(&all),
        [
            row("send_email", None, None, 1),
            row("send_email", Some("billing"), Some("prod"), 3),
            row("send_email", Some("web"), Some("prod"), 1),
            row("send_email", Some("web"), Some("staging"), 1),
        ]
    );
    let web = store
        .metrics(since, &only(Some("web"), None))
        .await
        .expect("metrics");
    assert_eq!(
        summary(&web),
        [
            row("send_email", Some("web"), Some("prod"), 1),
            row("send_email", Some("web"), Some("staging"), 1),
        ]
    );
    let prod = store
        .metrics(since, &only(None, Some("prod")))
        .await
        .expect("metrics");
    assert_eq!(prod.iter().map(|m| m.total_executions).sum::<i64>(), 4);

    // History: the same filters, counted exactly.
    let page = store
        .history(&HistoryQuery {
            service: Some("billing".into()),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    assert_eq!((page.total_count, page.items.len()), (3, 3));
    assert!(
        page.items
            .iter()
            .all(|r| r.state.service_name.as_deref() == Some("billing")
                && r.state.environment.as_deref() == Some("prod"))
    );
    let page = store
        .history(&HistoryQuery {
            task_name: Some("send_email".into()),
            service: Some("web".into()),
            environment: Some("staging".into()),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    assert_eq!(page.total_count, 1);
    assert_eq!(page.items[0].state.task_id, "s0");

    // Timeseries: one point per bucket and task type.
    let points = store
        .timeseries(&TimeseriesQuery {
            start: now - TimeDelta::hours(2),
            end: Some(now),
            task_type: only(Some("web"), Some("prod")),
            granularity: None,
        })
        .await
        .expect("timeseries");
    assert_eq!(points.iter().map(|p| p.success).sum::<i64>(), 1);
    assert!(
        points.iter().all(
            |p| p.service.as_deref() == Some("web") && p.environment.as_deref() == Some("prod")
        )
    );

    // Task types, and narrowed by a service.
    let types = store
        .task_types(&TaskTypeFilter::default())
        .await
        .expect("task types");
    assert_eq!(
        types,
        [
            TaskType::new("send_email", None, None),
            TaskType::new("send_email", Some("billing"), Some("prod")),
            TaskType::new("send_email", Some("web"), Some("prod")),
            TaskType::new("send_email", Some("web"), Some("staging")),
        ]
    );
    let billing = store
        .task_types(&only(Some("billing"), None))
        .await
        .expect("task types");
    assert_eq!(
        billing,
        [TaskType::new("send_email", Some("billing"), Some("prod"))]
    );
}

/// Runs a statement on the backend's database, for the test's setup.
async fn execute(backend: &Backend, sql: &str) {
    match backend {
        Backend::Postgres(store) => {
            sqlx::query(sql).execute(store.pool()).await.expect(sql);
        }
        Backend::Sqlite { store, .. } => {
            sqlx::query(sql).execute(store.pool()).await.expect(sql);
        }
    }
}

/// The store as a process starting on the database would open it (migrations, then rebuilds).
async fn reopened(backend: &Backend) -> Store {
    match backend {
        Backend::Postgres(store) => {
            let store = PgStore::from_pool(store.pool().clone());
            store.migrate().await.expect("migrate");
            std::sync::Arc::new(store)
        }
        Backend::Sqlite { dir, .. } => std::sync::Arc::new(
            SqliteStore::open(&dir.path().join("tasklens.db"))
                .await
                .expect("reopen"),
        ),
    }
}

async fn rollups_listed_for_a_rebuild_are_rebuilt_from_their_runs(backend: Backend) {
    let now = base_time();
    let store = store(&backend, now).await;
    write_two_services(&store).await;
    let since = now - TimeDelta::hours(24);
    let everything = TaskTypeFilter::default();
    let before = store.metrics(since, &everything).await.expect("metrics");
    let chart = TimeseriesQuery {
        start: now - TimeDelta::hours(2),
        end: Some(now),
        task_type: everything.clone(),
        granularity: None,
    };
    let points = store.timeseries(&chart).await.expect("timeseries");

    // As the migration leaves them: keyed by task name alone (here: all under no service, and
    // off by some runs), each day listed for a rebuild.
    execute(&backend, "DELETE FROM task_rollups WHERE service <> ''").await;
    execute(&backend, "UPDATE task_rollups SET success = success + 7").await;
    execute(
        &backend,
        "INSERT INTO rollup_rebuilds (day) SELECT DISTINCT bucket FROM task_rollups \
         WHERE granularity = 'day'",
    )
    .await;
    assert_ne!(
        store.metrics(since, &everything).await.expect("metrics"),
        before
    );

    let store = reopened(&backend).await;
    assert_eq!(
        store.metrics(since, &everything).await.expect("metrics"),
        before
    );
    assert_eq!(store.timeseries(&chart).await.expect("timeseries"), points);
    // Nothing is left to rebuild: opening again changes nothing.
    let store = reopened(&backend).await;
    assert_eq!(
        store.metrics(since, &everything).await.expect("metrics"),
        before
    );
}

/// `event` as a worker of `service` in production reports it.
fn from_service(mut event: TaskRunEvent, service: &str) -> TaskRunEvent {
    event.run.service_name = Some(service.to_owned());
    event.run.environment = Some("prod".to_owned());
    event
}

async fn error_groups_and_stuck_runs_are_per_task_type(backend: Backend) {
    let now = base_time();
    let store = store(&backend, now).await;
    let mut events = Vec::new();
    // One failure, the same text, in two services: two groups.
    for (i, service) in ["billing", "billing", "web"].into_iter().enumerate() {
        let mut life = Life::new(&format!("f{i}"), "send_email", now - TimeDelta::minutes(20));
        life.failure = Some(format!("SMTP 421 for message {i}"));
        events.extend(life.all().into_iter().map(|e| from_service(e, service)));
    }
    // In flight for 30 minutes, past the 5-minute floor: one running run per service, and one
    // pending run no worker has reported (its task name has two task types, so it stays
    // without a service).
    for service in ["billing", "web"] {
        let life = Life::new(
            &format!("r-{service}"),
            "send_email",
            now - TimeDelta::minutes(30),
        );
        events.push(life.pending());
        events.push(from_service(life.running(), service));
    }
    events.push(Life::new("p-unknown", "send_email", now - TimeDelta::minutes(30)).pending());
    store.write_batch(events).await.expect("write");

    let since = now - TimeDelta::hours(1);
    let groups = store
        .error_groups(since, &TaskTypeFilter::default())
        .await
        .expect("groups");
    let mut seen: Vec<(Option<&str>, Option<&str>, i64)> = groups
        .iter()
        .map(|g| {
            (
                g.group.service.as_deref(),
                g.group.environment.as_deref(),
                g.count,
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (Some("billing"), Some("prod"), 2),
            (Some("web"), Some("prod"), 1)
        ]
    );
    let web = store
        .error_groups(since, &only(Some("web"), None))
        .await
        .expect("groups");
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].group.service.as_deref(), Some("web"));
    assert!(
        store
            .error_groups(since, &only(Some("billing"), Some("staging")))
            .await
            .expect("groups")
            .is_empty()
    );

    let thresholds = StuckThresholds::default();
    let stuck = |filter: TaskTypeFilter| {
        let store = &store;
        let thresholds = &thresholds;
        async move {
            let mut ids: Vec<String> = store
                .stuck_runs(thresholds, &filter, now)
                .await
                .expect("stuck")
                .into_iter()
                .map(|s| format!("{}@{}", s.task_id, s.service.unwrap_or_default()))
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        stuck(TaskTypeFilter::default()).await,
        ["p-unknown@", "r-billing@billing", "r-web@web"]
    );
    assert_eq!(stuck(only(Some("web"), None)).await, ["r-web@web"]);
    assert_eq!(
        stuck(only(Some("billing"), Some("prod"))).await,
        ["r-billing@billing"]
    );
}

on_both_backends!(
    one_task_name_in_two_services_is_two_task_types,
    rollups_listed_for_a_rebuild_are_rebuilt_from_their_runs,
    error_groups_and_stuck_runs_are_per_task_type,
);
