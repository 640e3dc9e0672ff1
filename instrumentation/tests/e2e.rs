//! End to end: the tracker's spans through a real OTLP exporter into the real collector and
//! PostgreSQL. Pending, then running while the task still runs, then success or failed rows
//! with params, errors, chains and queue wait; retries as separate attempts; a collector that
//! cannot be reached costs the tasks nothing and its spans are counted as dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use tasklens_collector::{CollectorConfig, RunningCollector};
use tasklens_instrumentation::{OtlpProtocol, TaskRun, Tracker, TrackerGuard};
use tasklens_model::TaskStatus;
use tasklens_store::{HistoryQuery, PgStore, StoredRun, TaskStore};

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn collector(pool: PgPool, token: Option<&str>) -> (RunningCollector, PgStore) {
    let store = PgStore::from_pool(pool);
    store
        .maintain(&tasklens_store::RetentionPolicy::new(30))
        .await
        .expect("partitions");
    let config = CollectorConfig {
        grpc_addr: local(),
        http_addr: local(),
        admin_addr: local(),
        token: token.map(str::to_owned),
        ..CollectorConfig::default()
    };
    let running = tasklens_collector::start(config, Arc::new(store.clone()))
        .await
        .expect("collector starts");
    (running, store)
}

async fn runs_of(store: &PgStore, task_id: &str) -> Vec<StoredRun> {
    store
        .history(&HistoryQuery {
            text: Some(task_id.to_owned()),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("history")
        .items
        .into_iter()
        .filter(|run| run.state.task_id == task_id)
        .collect()
}

/// Waits (generously) until the run of `task_id` and `attempt` is in `status`.
async fn wait_for(store: &PgStore, task_id: &str, attempt: i32, status: TaskStatus) -> StoredRun {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = runs_of(store, task_id)
            .await
            .into_iter()
            .find(|run| run.state.attempt == attempt);
        if let Some(run) = &found
            && run.state.status == status
        {
            return run.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {task_id}#{attempt} to be {status:?}; last seen {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Debug, thiserror::Error)]
#[error("OpenAI API rate limit exceeded")]
struct RateLimited {
    #[source]
    source: Http429,
}

#[derive(Debug, thiserror::Error)]
#[error("HTTP 429 Too Many Requests")]
struct Http429;

fn install(endpoint: String, protocol: OtlpProtocol) -> TrackerGuard {
    Tracker::builder()
        .endpoint(endpoint)
        .protocol(protocol)
        .service_name("e2e-workers")
        .install()
        .expect("tracker")
}

#[sqlx::test(migrations = "../migrations")]
async fn pending_running_then_failed_and_a_retry_through_grpc(pool: PgPool) {
    let (collector, store) = collector(pool, None).await;
    let guard = install(
        format!("http://{}", collector.grpc_addr),
        OtlpProtocol::Grpc,
    );
    let tracker = guard.tracker().clone();
    let task_id = "e2e-grpc-1";
    let params = json!({"message_id": 500, "chat_id": -1001, "password": "hunter2"});

    let headers = tracker.enqueue("score_message", task_id, &params);
    let pending = wait_for(&store, task_id, 0, TaskStatus::Pending).await;
    assert!(pending.state.enqueued_at.is_some());

    // The task holds until the test has seen it running.
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let tracker = tracker.clone();
        let run = TaskRun::new("score_message", task_id)
            .params(&params)
            .expect("params")
            .headers(&headers);
        tokio::spawn(async move {
            tracker
                .run(run, async move {
                    let _ = released.await;
                    Err::<(), _>(RateLimited { source: Http429 })
                })
                .await
        })
    };
    let running = wait_for(&store, task_id, 0, TaskStatus::Running).await;
    assert!(running.state.started_at.is_some());
    assert!(!worker.is_finished(), "running was seen while the task ran");
    release.send(()).expect("the task waits");
    let error = worker
        .await
        .expect("no panic")
        .expect_err("the task failed");
    assert_eq!(error.to_string(), "OpenAI API rate limit exceeded");

    let failed = wait_for(&store, task_id, 0, TaskStatus::Failed).await.state;
    assert_eq!(failed.task_name, "score_message");
    assert_eq!(
        failed.error_message.as_deref(),
        Some("OpenAI API rate limit exceeded")
    );
    assert_eq!(failed.error_type.as_deref(), Some("e2e::RateLimited"));
    let traceback = failed.error_traceback.clone().expect("a traceback");
    assert!(
        traceback.contains("Caused by:\nHTTP 429 Too Many Requests"),
        "{traceback}"
    );
    assert_eq!(
        failed.params,
        Some(json!({"message_id": 500, "chat_id": -1001, "password": "[redacted]"}))
    );
    assert!(failed.queue_wait_ms().is_some_and(|ms| ms >= 0));
    assert!(failed.duration_ms().is_some_and(|ms| ms >= 0));
    assert_eq!(failed.service_name.as_deref(), Some("e2e-workers"));
    assert!(failed.trace_id.is_some());

    // The retry is a separate run of the same task id.
    let retry = TaskRun::new("score_message", task_id)
        .params(&params)
        .expect("params")
        .attempt(1);
    let headers = tracker.enqueue_run(&retry);
    tracker
        .run(retry.headers(&headers), async {
            Ok::<_, std::io::Error>(())
        })
        .await
        .expect("the retry succeeds");
    let succeeded = wait_for(&store, task_id, 1, TaskStatus::Success)
        .await
        .state;
    assert_eq!(succeeded.error_message, None);
    assert_eq!(runs_of(&store, task_id).await.len(), 2);
    let first = wait_for(&store, task_id, 0, TaskStatus::Failed).await;
    assert_eq!(first.state.status, TaskStatus::Failed);

    assert_eq!(tracker.dropped_spans(), 0);
    guard.shutdown().await;
    collector.shutdown().await.expect("collector stops");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_success_through_http_protobuf_with_a_token(pool: PgPool) {
    let (collector, store) = collector(pool, Some("s3cret")).await;
    let guard = Tracker::builder()
        .endpoint(format!("http://{}", collector.http_addr))
        .protocol(OtlpProtocol::HttpProtobuf)
        .token("s3cret")
        .service_name("e2e-http")
        .install()
        .expect("tracker");
    let tracker = guard.tracker().clone();
    let task_id = "e2e-http-1";
    let params = json!({"batch_size": 64, "api_key": "k"});
    let headers = tracker.enqueue("embed_messages_batch", task_id, &params);
    let run = TaskRun::new("embed_messages_batch", task_id)
        .params(&params)
        .expect("params")
        .queue("embeddings")
        .headers(&headers);
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let tracker = tracker.clone();
        tokio::spawn(async move {
            tracker
                .run(run, async move {
                    let _ = released.await;
                    Ok::<_, std::io::Error>(64)
                })
                .await
        })
    };
    wait_for(&store, task_id, 0, TaskStatus::Running).await;
    release.send(()).expect("the task waits");
    assert_eq!(worker.await.expect("no panic").expect("success"), 64);
    let run = wait_for(&store, task_id, 0, TaskStatus::Success)
        .await
        .state;
    assert_eq!(
        run.params,
        Some(json!({"batch_size": 64, "api_key": "[redacted]"}))
    );
    assert_eq!(run.queue.as_deref(), Some("embeddings"));
    assert_eq!(run.service_name.as_deref(), Some("e2e-http"));
    assert!(run.queue_wait_ms().is_some());
    assert!(run.completed_at.is_some());
    assert_eq!(tracker.dropped_spans(), 0);
    guard.shutdown().await;
    collector.shutdown().await.expect("collector stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_costs_the_tasks_nothing_and_drops_are_counted() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind(local())
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    for protocol in [OtlpProtocol::Grpc, OtlpProtocol::HttpProtobuf] {
        let guard = Tracker::builder()
            .endpoint(format!("http://127.0.0.1:{port}"))
            .protocol(protocol)
            .export_timeout(Duration::from_secs(1))
            .install()
            .expect("tracker");
        let tracker = guard.tracker().clone();
        for n in 0..10 {
            let run = TaskRun::new("score_message", format!("down-{n}"));
            let headers = tracker.enqueue_run(&run);
            let value = tracker
                .run(
                    run.headers(&headers),
                    async move { Ok::<_, std::io::Error>(n) },
                )
                .await
                .expect("the task completes");
            assert_eq!(value, n);
        }
        // 3 spans a run, all lost; the count arrives once the exports have failed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tracker.dropped_spans() < 30 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{protocol}: only {} spans counted as dropped",
                tracker.dropped_spans()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(tracker.dropped_spans(), 30, "{protocol}");
        assert_eq!(guard.counters().exported(), 0);
        guard.shutdown().await;
    }
}
