//! Two `tasklens collector` processes on one PostgreSQL database (replicas behind a load
//! balancer): the recorded spans of each run are split across them, in both orders, and the
//! rows must be exactly those one collector gives for the same requests in the same order. The
//! joins this needs (TaskIQ run spans and their producers, Celery retries, exceptions reported
//! as log records) are resolved in the store, so they hold whichever replica got which span.
//! Last, both halves of TaskIQ runs are sent to the two replicas at once: each run must still
//! give one row, the one of either order.

use std::path::PathBuf;
use std::process::Child;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use sqlx::PgPool;
use tasklens_model::{RunState, TaskStatus};
use tasklens_store::{HistoryQuery, PgStore, TaskStore};

mod common;
use common::start_collector;

struct Collector {
    child: Child,
    http: String,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Collector {
    fn start(url: &str) -> Collector {
        let started = start_collector(url);
        Collector {
            child: started.child,
            http: started.http,
            _stdout: started.stdout,
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which spans of a trace request to send.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    All,
    /// Only the PRODUCER spans.
    Producers,
    /// All but the PRODUCER spans.
    Workers,
}

/// One request: to replica 0 or 1, a fixture file (`taskiq/success-1`), which of its spans.
type Send = (usize, &'static str, Part);

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../collector/tests/fixtures")
        .join(format!("{name}.pb"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn body(name: &str, part: Part) -> Vec<u8> {
    let bytes = fixture(name);
    if part == Part::All {
        return bytes;
    }
    let mut request = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("a trace request");
    for resource in &mut request.resource_spans {
        for scope in &mut resource.scope_spans {
            scope.spans.retain(|span| {
                (span.kind == SpanKind::Producer as i32) == (part == Part::Producers)
            });
        }
    }
    request.encode_to_vec()
}

async fn post(client: &reqwest::Client, collector: &Collector, name: &str, part: Part) {
    let path = if name.contains("-logs-") {
        "logs"
    } else {
        "traces"
    };
    let answer = client
        .post(format!("http://{}/v1/{path}", collector.http))
        .header("content-type", "application/x-protobuf")
        .body(body(name, part))
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 200, "{name} {part:?}");
}

/// Every run's state, in key order.
async fn rows(store: &PgStore) -> Vec<RunState> {
    let page = store
        .history(&HistoryQuery {
            page_size: 100,
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    let mut runs: Vec<RunState> = page.items.into_iter().map(|r| r.state).collect();
    runs.sort_by_key(|r| (r.source.as_str(), r.task_id.clone(), r.attempt));
    runs
}

/// Empties every table the collectors write (test code: the store has no such statement).
async fn empty(pool: &PgPool) {
    sqlx::query(
        "TRUNCATE task_execution_logs, task_run_keys, task_rollups, task_span_joins, \
         error_groups, error_group_rollups",
    )
    .execute(pool)
    .await
    .expect("truncate");
}

async fn send_all(client: &reqwest::Client, replicas: &[Collector; 2], sends: &[Send], one: bool) {
    for &(replica, name, part) in sends {
        let to = if one { 0 } else { replica };
        post(client, &replicas[to], name, part).await;
    }
}

fn summary(runs: &[RunState]) -> Vec<(String, i32, TaskStatus, bool, Option<String>)> {
    runs.iter()
        .map(|r| {
            (
                r.task_id.clone(),
                r.attempt,
                r.status,
                r.queue_wait_ms().is_some(),
                // The log record's traceback (the task's frames only) is the greater one: it
                // shows whether the log record joined the run.
                r.error_type.clone().map(|t| {
                    let logged = r
                        .error_traceback
                        .as_deref()
                        .is_some_and(|tb| !tb.contains("site-packages"));
                    if logged { format!("{t} (log)") } else { t }
                }),
            )
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn joins_hold_across_two_collector_replicas(pool: PgPool) {
    let url = format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().expect("database")
    );
    let replicas = [Collector::start(&url), Collector::start(&url)];
    let store = PgStore::connect(&url, &Default::default())
        .await
        .expect("connect");
    let client = reqwest::Client::new();
    use Part::*;
    const TQ_ID: &str = "d2b0248e380143b5999d285b3220f5ef";
    const TQ_FALLBACK: &str = "4d966885b32af3b2";
    const TQ_FAILED: &str = "7fb3fd78d22645b48824ab50423c2046";
    const CELERY_RETRY: &str = "244be644-7d25-4174-890f-5164d27d777e";
    const CELERY_FAILED: &str = "338baa45-b19d-4a19-bb60-fb461288f8b2";
    let tq = |id: &str, status, waited, error: Option<&str>| {
        (id.to_owned(), 0, status, waited, error.map(str::to_owned))
    };
    // (requests, what the rows must be besides equal to one collector's)
    type Expected = Vec<(String, i32, TaskStatus, bool, Option<String>)>;
    let cases: Vec<(Vec<Send>, Expected)> = vec![
        // TaskIQ: the producer on one replica, the run span (no task id) on the other
        (
            vec![(0, "taskiq/success-1", All), (1, "taskiq/success-2", All)],
            vec![tq(TQ_ID, TaskStatus::Success, true, None)],
        ),
        // ... the run span first: filed under the fallback key, and so is the producer
        (
            vec![(0, "taskiq/success-2", All), (1, "taskiq/success-1", All)],
            vec![tq(TQ_FALLBACK, TaskStatus::Success, true, None)],
        ),
        // TaskIQ: the exception log record before its run span, on the other replica
        (
            vec![
                (0, "taskiq/failure-1", All),
                (1, "taskiq/failure-logs-1", All),
                (0, "taskiq/failure-2", All),
            ],
            vec![tq(
                TQ_FAILED,
                TaskStatus::Failed,
                true,
                Some("ValueError (log)"),
            )],
        ),
        // Celery: the exception log record before and after its run span
        (
            vec![
                (1, "celery/failure-logs-1", All),
                (0, "celery/failure-2", All),
                (1, "celery/failure-1", All),
            ],
            vec![(
                CELERY_FAILED.into(),
                0,
                TaskStatus::Failed,
                true,
                Some("ValueError (log)".into()),
            )],
        ),
        (
            vec![
                (0, "celery/failure-1", All),
                (0, "celery/failure-2", All),
                (1, "celery/failure-logs-1", All),
            ],
            vec![(
                CELERY_FAILED.into(),
                0,
                TaskStatus::Failed,
                true,
                Some("ValueError (log)".into()),
            )],
        ),
        // Celery retry: the run spans on one replica, the retry's publish (their child) on the
        // other, after them
        (
            vec![
                (0, "celery/retry-1", All),
                (1, "celery/retry-2", Workers),
                (0, "celery/retry-2", Producers),
            ],
            vec![
                (
                    CELERY_RETRY.into(),
                    0,
                    TaskStatus::Failed,
                    true,
                    Some("ConnectionError".into()),
                ),
                (CELERY_RETRY.into(), 1, TaskStatus::Success, true, None),
            ],
        ),
        // ... the retry's publish first, on its own replica, before the run it retries: it
        // waits on that run's span and is released as the next attempt, with its enqueue time
        (
            vec![
                (1, "celery/retry-2", Producers),
                (0, "celery/retry-1", All),
                (0, "celery/retry-2", Workers),
            ],
            vec![
                (
                    CELERY_RETRY.into(),
                    0,
                    TaskStatus::Failed,
                    true,
                    Some("ConnectionError".into()),
                ),
                (CELERY_RETRY.into(), 1, TaskStatus::Success, true, None),
            ],
        ),
        (
            vec![(1, "celery/retry-2", All), (0, "celery/retry-1", All)],
            vec![
                (
                    CELERY_RETRY.into(),
                    0,
                    TaskStatus::Failed,
                    true,
                    Some("ConnectionError".into()),
                ),
                (CELERY_RETRY.into(), 1, TaskStatus::Success, true, None),
            ],
        ),
        // TaskIQ retries: the retry's send span apart from the run spans it joins
        (
            vec![
                (1, "taskiq/retry-success-1", All),
                (0, "taskiq/retry-success-2", Producers),
                (1, "taskiq/retry-success-2", Workers),
            ],
            vec![
                tq(
                    "028d200ff2ad429589ed7a7a27df73a3",
                    TaskStatus::Failed,
                    true,
                    None,
                ),
                (
                    "028d200ff2ad429589ed7a7a27df73a3".into(),
                    1,
                    TaskStatus::Success,
                    true,
                    None,
                ),
            ],
        ),
    ];
    for (sends, expected) in &cases {
        empty(&pool).await;
        send_all(&client, &replicas, sends, true).await;
        let one = rows(&store).await;
        empty(&pool).await;
        send_all(&client, &replicas, sends, false).await;
        let two = rows(&store).await;
        assert_eq!(
            two, one,
            "{sends:?}: two replicas differ from one collector"
        );
        assert_eq!(&summary(&two), expected, "{sends:?}");
    }

    // Both halves at once, to both replicas, in both assignments: one row per run each time,
    // under the message id or the fallback (whichever transaction recorded the span first).
    for round in 0..10 {
        empty(&pool).await;
        let (producer, worker) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
        tokio::join!(
            post(&client, &replicas[producer], "taskiq/success-1", All),
            post(&client, &replicas[worker], "taskiq/success-2", All),
            post(&client, &replicas[worker], "celery/failure-logs-1", All),
            post(&client, &replicas[producer], "celery/failure-2", All),
        );
        let runs = summary(&rows(&store).await);
        assert_eq!(runs.len(), 2, "round {round}: {runs:?}");
        assert_eq!(
            runs[0],
            (
                CELERY_FAILED.into(),
                0,
                TaskStatus::Failed,
                false,
                Some("ValueError (log)".into())
            ),
            "round {round}"
        );
        let taskiq = &runs[1];
        assert!(
            *taskiq == tq(TQ_ID, TaskStatus::Success, true, None)
                || *taskiq == tq(TQ_FALLBACK, TaskStatus::Success, true, None),
            "round {round}: {taskiq:?}"
        );
    }
}
