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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the fixture files of a scenario say about one run: the entry of the last file that
/// reports it (the span that decides its final state) with that file's stem under `"file"`,
/// and the queue any of them names.
fn per_file<'a>(expected: &'a Value, files: &[&str], run: &Value) -> (Value, Option<&'a str>) {
    let same_run = |entry: &&Value| {
        entry["source"] == run["source"]
            && entry["task_id"] == run["task_id"]
            && entry["attempt"].as_i64().unwrap_or(0) == run["attempt"].as_i64().unwrap_or(0)
    };
    let entries: Vec<(&str, &Value)> = files
        .iter()
        .flat_map(|stem| {
            expected["files"][*stem]["runs"]
                .as_array()
                .map(|runs| {
                    runs.iter()
                        .filter(same_run)
                        .map(|entry| (*stem, entry))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    let (stem, decisive) = entries
        .iter()
        .rev()
        .find(|(_, entry)| entry["status"] == run["status"])
        .unwrap_or_else(|| panic!("no file entry ends {run} with its status"));
    let mut decisive = (*decisive).clone();
    decisive["file"] = Value::from(*stem);
    let queue = entries
        .iter()
        .find_map(|(_, entry)| entry["queue"].as_str());
    (decisive, queue)
}

/// Checks every stored row of a scenario against `expected.json`: the scenario's runs by
/// source, task id and attempt, and what its files say about each (trace and span of the span
/// that decided the run, its queue, the exception its log records carry).
/// `filed_under` gives the key a run is stored under, from its scenario entry and the entry of
/// the file that decided it.
fn check_scenario(
    name: &str,
    expected: &Value,
    scenario: &Value,
    rows: &[StoredRun],
    filed_under: impl Fn(&Value, &Value) -> Value,
) -> usize {
    let files = scenario_files(scenario);
    let runs = scenario["runs"].as_array().expect("runs");
    for run in runs {
        let (decisive, queue) = per_file(expected, &files, run);
        let row = find(rows, &filed_under(run, &decisive));
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
        }
        assert_eq!(
            (
                state.trace_id.as_ref().map(|id| hex(id)),
                state.span_id.as_ref().map(|id| hex(id))
            ),
            (
                decisive["trace_id"].as_str().map(str::to_owned),
                decisive["span_id"].as_str().map(str::to_owned)
            ),
            "{name}: the trace and span of the span that decided the run"
        );
        assert_eq!(state.queue.as_deref(), queue, "{name}: queue");
    }
    for stem in &files {
        for log in expected["files"][*stem]["exception_logs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let joined = &log["joins_run"];
            let run = runs
                .iter()
                .find(|run| run["task_id"] == joined["task_id"])
                .expect("the joined run is one of the scenario's");
            let (decisive, _) = per_file(expected, &files, run);
            let row = find(rows, &filed_under(run, &decisive));
            assert_eq!(
                row.state.error_type.as_deref(),
                log["exception_type"].as_str(),
                "{name}: the log record's exception joined its run"
            );
            let message = row.state.error_message.as_deref().unwrap_or_default();
            let logged = log["exception_message"].as_str().unwrap_or_default();
            assert!(
                message.contains(logged),
                "{name}: {message:?} lacks {logged:?}"
            );
        }
    }
    runs.len()
}

fn scenario_files(scenario: &Value) -> Vec<&str> {
    scenario["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn recorded_celery_and_taskiq_payloads_become_the_expected_runs(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;
    let expected = expected();
    let scenarios = expected["scenarios"].as_object().expect("scenarios");
    let mut expected_runs = 0;
    for (name, scenario) in scenarios {
        // Protobuf first, then the same requests as JSON: duplicates must change nothing.
        for extension in ["pb", "json"] {
            for stem in scenario_files(scenario) {
                replay(collector.http_addr, stem, extension).await;
            }
        }
        expected_runs +=
            check_scenario(name, &expected, scenario, &runs(&store).await, |run, _| {
                run.clone()
            });
    }
    assert_eq!(runs(&store).await.len(), expected_runs, "no other rows");
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn recorded_payloads_in_reverse_order_still_give_one_row_per_run(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;
    let expected = expected();
    let mut expected_runs = 0;
    for (name, scenario) in expected["scenarios"].as_object().expect("scenarios") {
        let mut files = scenario_files(scenario);
        files.reverse();
        for stem in files {
            replay(collector.http_addr, stem, "pb").await;
        }
        // The same runs and states as in order. One documented exception: a TaskIQ run whose
        // execute span (no task id of its own) arrives before its send span is filed under the
        // send span's id in hex, and the send span, arriving later, joins that row.
        expected_runs += check_scenario(
            name,
            &expected,
            scenario,
            &runs(&store).await,
            |run, decisive| match decisive["task_id_via"]["parent_span_id"].as_str() {
                Some(parent) if decisive["task_id_via"]["parent_in_file"] != decisive["file"] => {
                    let mut fallback = run.clone();
                    fallback["task_id"] = Value::from(parent);
                    fallback
                }
                _ => run.clone(),
            },
        );
    }
    assert_eq!(
        runs(&store).await.len(),
        expected_runs,
        "out of order, still one row per run"
    );
    collector.shutdown().await.expect("shutdown");
}
