//! Payloads recorded from the real Python Celery and TaskIQ instrumentations
//! (`fixtures/record.py`), replayed over OTLP/HTTP as protobuf and as JSON: the runs in the
//! database must be the ones `fixtures/expected.json` lists.

mod common;

use std::path::PathBuf;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tasklens_store::StoredRun;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

async fn replay(addr: std::net::SocketAddr, stem: &str, extension: &str) {
    let body = std::fs::read(fixtures().join(format!("{stem}.{extension}"))).expect("fixture");
    let path = if stem.contains("-logs-") {
        "/v1/logs"
    } else {
        "/v1/traces"
    };
    let content_type = if extension == "pb" {
        "application/x-protobuf"
    } else {
        "application/json"
    };
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), StatusCode::OK, "{stem}.{extension}");
    let text = answer.text().await.expect("body");
    assert!(!text.contains("rejected"), "{stem}.{extension}: {text}");
}

fn find<'a>(rows: &'a [StoredRun], run: &Value) -> &'a StoredRun {
    let field = |name: &str| run[name].as_str().unwrap_or_default().to_owned();
    let attempt = run["attempt"].as_i64().unwrap_or(0);
    rows.iter()
        .find(|r| {
            r.state.source.as_str() == field("source")
                && r.state.task_id == field("task_id")
                && i64::from(r.state.attempt) == attempt
        })
        .unwrap_or_else(|| {
            panic!(
                "no row for {run}; rows: {:#?}",
                rows.iter().map(|r| r.state.key()).collect::<Vec<_>>()
            )
        })
}

#[sqlx::test(migrations = "../migrations")]
async fn recorded_celery_and_taskiq_payloads_become_the_expected_runs(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;
    let expected = expected();
    let scenarios = expected["scenarios"].as_object().expect("scenarios");
    let mut expected_runs = 0;
    for (name, scenario) in scenarios {
        let files: Vec<&str> = scenario["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // Protobuf first, then the same requests as JSON: duplicates must change nothing.
        for extension in ["pb", "json"] {
            for stem in &files {
                replay(collector.http_addr, stem, extension).await;
            }
        }
        let rows = runs(&store).await;
        for run in scenario["runs"].as_array().expect("runs") {
            expected_runs += 1;
            let row = find(&rows, run);
            let state = &row.state;
            assert_eq!(
                state.task_name,
                run["task_name"].as_str().unwrap_or_default(),
                "{name}"
            );
            assert_eq!(
                state.status.as_str(),
                run["status"].as_str().unwrap_or_default(),
                "{name}: {state:#?}"
            );
            if let Some(fragment) = run["error_contains"].as_str() {
                let message = state.error_message.as_deref().unwrap_or_default();
                assert!(
                    message.contains(fragment),
                    "{name}: {message:?} lacks {fragment:?}"
                );
            }
            if let Some(error_type) = run["error_type"].as_str() {
                assert_eq!(state.error_type.as_deref(), Some(error_type), "{name}");
            }
            if state.status.is_finished() {
                assert!(row.duration_ms().is_some(), "{name}");
                assert!(
                    state.trace_id.is_some() && state.span_id.is_some(),
                    "{name}"
                );
            }
        }
    }
    assert_eq!(runs(&store).await.len(), expected_runs, "no other rows");
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn recorded_payloads_in_reverse_order_still_give_one_row_per_run(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;
    let expected = expected();
    let mut expected_runs = 0;
    for scenario in expected["scenarios"]
        .as_object()
        .expect("scenarios")
        .values()
    {
        let mut files: Vec<&str> = scenario["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        files.reverse();
        for stem in files {
            replay(collector.http_addr, stem, "pb").await;
        }
        expected_runs += scenario["runs"].as_array().expect("runs").len();
        for run in scenario["runs"].as_array().expect("runs") {
            let rows = runs(&store).await;
            let finished = rows.iter().any(|r| {
                r.state.task_name == run["task_name"].as_str().unwrap_or_default()
                    && r.state.status.as_str() == run["status"].as_str().unwrap_or_default()
            });
            assert!(finished, "{run}");
        }
    }
    assert_eq!(
        runs(&store).await.len(),
        expected_runs,
        "out of order, still one row per run"
    );
    collector.shutdown().await.expect("shutdown");
}
