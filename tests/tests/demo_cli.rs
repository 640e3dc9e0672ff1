//! `tasklens demo` against an in-process collector over a fresh database: runs of several task
//! types arrive, failures among them with their error chains, params redacted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tasklens_collector::CollectorConfig;
use tasklens_model::TaskStatus;
use tasklens_store::{HistoryQuery, PgStore, StoredRun, TaskStore};

async fn all_runs(store: &PgStore) -> Vec<StoredRun> {
    let mut all = Vec::new();
    for page in 1.. {
        let found = store
            .history(&HistoryQuery {
                page,
                page_size: 200,
                ..Default::default()
            })
            .await
            .expect("history")
            .items;
        if found.is_empty() {
            return all;
        }
        all.extend(found);
    }
    all
}

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_fills_the_dashboard_with_several_task_types_and_failures(pool: PgPool) {
    let store = PgStore::from_pool(pool);
    store
        .maintain(&tasklens_store::RetentionPolicy::new(30))
        .await
        .expect("partitions");
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let collector = tasklens_collector::start(
        CollectorConfig {
            grpc_addr: local,
            http_addr: local,
            admin_addr: local,
            ..CollectorConfig::default()
        },
        Arc::new(store.clone()),
    )
    .await
    .expect("collector starts");

    let endpoint = format!("http://{}", collector.grpc_addr);
    let mut out = Vec::new();
    tasklens::run(
        [
            "tasklens",
            "demo",
            "--duration-secs",
            "2",
            "--rate",
            "20",
            "--failure-percent",
            "60",
            "--otlp-endpoint",
            &endpoint,
        ],
        &mut out,
    )
    .await
    .expect("the demo runs");
    let printed = String::from_utf8_lossy(&out);
    assert!(printed.contains("demo stopped"), "{printed}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let runs = all_runs(&store).await;
        let mut types: Vec<&str> = runs.iter().map(|r| r.state.task_name.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        let failed: Vec<&StoredRun> = runs
            .iter()
            .filter(|r| r.state.status == TaskStatus::Failed)
            .collect();
        let finished = runs.iter().filter(|r| r.state.status.is_finished()).count();
        if types.len() >= 3 && !failed.is_empty() && finished >= 5 {
            assert!(failed.iter().all(|r| r.state.error_message.is_some()));
            // Failures carry their cause chain (cancelled runs at shutdown have none).
            assert!(failed.iter().any(|r| {
                r.state
                    .error_traceback
                    .as_deref()
                    .is_some_and(|tb| tb.contains("Caused by:"))
            }));
            assert!(runs.iter().all(|r| r.state.service_name.is_none()
                || r.state.service_name.as_deref() == Some("tasklens-demo")));
            let params: Vec<String> = runs
                .iter()
                .filter_map(|r| r.state.params.as_ref())
                .map(|p| p.to_string())
                .collect();
            assert!(!params.is_empty(), "the demo's runs carry params");
            assert!(
                params.iter().all(|p| !p.contains("demo-secret")),
                "secrets never leave the demo"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 30 s: {} runs, types {types:?}, {} failed",
            runs.len(),
            failed.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    collector.shutdown().await.expect("collector stops");
}
