//! The spans the tracker writes, seen through the SDK's in-memory exporter: names, kinds,
//! attributes, status, exception events, parents and links, redaction, caps, panics, attempts,
//! and the buffer's drop counting.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use opentelemetry::trace::{
    SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use serde_json::json;
use tasklens_instrumentation::{BufferConfig, TaskRun, Tracker, TrackerGuard};
use tasklens_model::conventions as conv;
use tasklens_model::limits::MAX_TEXT_BYTES;

fn pipeline() -> (TrackerGuard, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let guard = Tracker::builder()
        .service_name("spans-test")
        .install_with_exporter(exporter.clone());
    (guard, exporter)
}

fn finished(guard: &TrackerGuard, exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    guard.provider().force_flush().expect("flush");
    exporter.get_finished_spans().expect("spans")
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "one {name} in {spans:#?}");
    found[0]
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn text(span: &SpanData, key: &str) -> String {
    match attr(span, key) {
        Some(Value::String(s)) => s.to_string(),
        other => panic!("{key} is {other:?} on {}", span.name),
    }
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(n)) => n,
        other => panic!("{key} is {other:?} on {}", span.name),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("OpenAI API rate limit exceeded")]
struct RateLimited {
    #[source]
    source: HttpError,
}

#[derive(Debug, thiserror::Error)]
#[error("HTTP 429 Too Many Requests")]
struct HttpError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_and_run_join_up_with_the_queue_wait() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    let params = json!({"message_id": 500, "chat_id": -100, "api_key": "sk-live"});

    let headers = tracker.enqueue("score_message", "task-1", &params);
    assert!(headers.contains_key("traceparent"), "{headers:?}");
    let enqueued_at: i64 = headers[conv::HEADER_ENQUEUED_AT].parse().expect("nanos");

    let run = TaskRun::new("score_message", "task-1")
        .params(&params)
        .expect("params")
        .headers(&headers);
    let score = tracker
        .run(run, async { Ok::<_, std::io::Error>(0.93) })
        .await
        .expect("task succeeds");
    assert_eq!(score, 0.93);

    let spans = finished(&guard, &exporter);
    assert_eq!(spans.len(), 3);
    let enqueue = one(&spans, "enqueue score_message");
    let start = one(&spans, "start score_message");
    let run = one(&spans, "run score_message");

    assert_eq!(enqueue.span_kind, SpanKind::Producer);
    assert_eq!(start.span_kind, SpanKind::Internal);
    assert_eq!(run.span_kind, SpanKind::Consumer);
    for span in [enqueue, start, run] {
        assert_eq!(text(span, conv::TASK_NAME), "score_message");
        assert_eq!(text(span, conv::TASK_ID), "task-1");
        assert_eq!(int(span, conv::TASK_ATTEMPT), 0);
        assert_eq!(
            span.span_context.trace_id(),
            enqueue.span_context.trace_id()
        );
    }
    assert_eq!(text(enqueue, conv::TASK_STATE), "pending");
    assert_eq!(text(start, conv::TASK_STATE), "running");
    assert_eq!(text(run, conv::TASK_STATE), "success");
    assert_eq!(run.status, Status::Ok);
    assert!(run.events.is_empty());

    // The run continues the enqueue (through the headers); the start signal is the run's child
    // and ends the moment it starts.
    assert_eq!(run.parent_span_id, enqueue.span_context.span_id());
    assert!(run.parent_span_is_remote);
    assert_eq!(start.parent_span_id, run.span_context.span_id());
    assert_eq!(start.start_time, start.end_time);
    assert_eq!(start.start_time, run.start_time);
    assert!(run.end_time >= run.start_time);

    // The queue wait is known on the worker's spans.
    assert_eq!(int(run, conv::TASK_ENQUEUED_AT), enqueued_at);
    assert_eq!(int(start, conv::TASK_ENQUEUED_AT), enqueued_at);
    assert_eq!(
        enqueue
            .start_time
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after epoch")
            .as_nanos() as i64,
        enqueued_at
    );

    // Params are redacted before they leave, on the enqueue and run spans.
    for span in [enqueue, run] {
        let sent: serde_json::Value =
            serde_json::from_str(&text(span, conv::TASK_PARAMS)).expect("JSON params");
        assert_eq!(
            sent,
            json!({"message_id": 500, "chat_id": -100, "api_key": "[redacted]"})
        );
    }
    assert!(attr(start, conv::TASK_PARAMS).is_none());
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_is_recorded_with_its_type_and_chain_and_returned_unchanged() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    let run = TaskRun::new("embed_messages_batch", "task-2").attempt(1);
    let error = tracker
        .run(run, async {
            Err::<(), _>(RateLimited { source: HttpError })
        })
        .await
        .expect_err("the task's error comes back");
    assert_eq!(error.to_string(), "OpenAI API rate limit exceeded");

    let spans = finished(&guard, &exporter);
    let run = one(&spans, "run embed_messages_batch");
    assert_eq!(int(run, conv::TASK_ATTEMPT), 1);
    assert_eq!(text(run, conv::TASK_STATE), "failed");
    assert_eq!(run.status, Status::error("OpenAI API rate limit exceeded"));
    assert_eq!(text(run, conv::ERROR_CHAIN), "HTTP 429 Too Many Requests");
    let events: Vec<_> = run.events.iter().collect();
    assert_eq!(events.len(), 1);
    let exception = events[0];
    assert_eq!(exception.name, conv::EXCEPTION_EVENT);
    let event_attr = |key: &str| {
        exception
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(
        event_attr(conv::EXCEPTION_MESSAGE).as_deref(),
        Some("OpenAI API rate limit exceeded")
    );
    assert_eq!(
        event_attr(conv::EXCEPTION_TYPE).as_deref(),
        Some("spans::RateLimited")
    );
    let start = one(&spans, "start embed_messages_batch");
    assert_eq!(text(start, conv::TASK_STATE), "running");
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_behind_trait_objects_are_recorded_with_their_chain() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    let error = tracker
        .run_dyn(TaskRun::new("boxed", "task-12"), async {
            let boxed: Box<dyn std::error::Error + Send + Sync> =
                Box::new(RateLimited { source: HttpError });
            Err::<(), _>(boxed)
        })
        .await
        .expect_err("the error comes back");
    assert_eq!(error.to_string(), "OpenAI API rate limit exceeded");
    let spans = finished(&guard, &exporter);
    let run = one(&spans, "run boxed");
    assert_eq!(text(run, conv::ERROR_CHAIN), "HTTP 429 Too Many Requests");
    assert_eq!(run.status, Status::error("OpenAI API rate limit exceeded"));
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_recorded_as_failed_and_propagates_unchanged() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    let joined = tokio::spawn(async move {
        tracker
            .run(TaskRun::new("score_message", "task-3"), async {
                if "boom".len() == 4 {
                    panic!("scoring blew up at message 500");
                }
                Ok::<(), std::io::Error>(())
            })
            .await
    })
    .await;
    let payload = joined.expect_err("the panic propagates").into_panic();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"scoring blew up at message 500")
    );

    let spans = finished(&guard, &exporter);
    let run = one(&spans, "run score_message");
    assert_eq!(text(run, conv::TASK_STATE), "failed");
    assert_eq!(
        run.status,
        Status::error("panicked: scoring blew up at message 500")
    );
    let exception = run.events.iter().next().expect("exception event");
    assert!(
        exception
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == conv::EXCEPTION_TYPE && kv.value.as_str() == "panic")
    );
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_separate_attempts_of_one_task_id() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    for attempt in 0..3u32 {
        let run = TaskRun::new("ingest_telegram_messages", "task-4")
            .attempt(attempt)
            .queue("ingest");
        let headers = tracker.enqueue_run(&run);
        let _ = tracker
            .run(run.headers(&headers), async move {
                if attempt < 2 {
                    Err(std::io::Error::other("flood wait"))
                } else {
                    Ok(())
                }
            })
            .await;
    }
    let spans = finished(&guard, &exporter);
    let runs = named(&spans, "run ingest_telegram_messages");
    let mut seen: Vec<(i64, String)> = runs
        .iter()
        .map(|s| (int(s, conv::TASK_ATTEMPT), text(s, conv::TASK_STATE)))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (0, "failed".to_owned()),
            (1, "failed".to_owned()),
            (2, "success".to_owned())
        ]
    );
    assert!(runs.iter().all(|s| text(s, conv::TASK_QUEUE) == "ingest"));
    assert_eq!(named(&spans, "enqueue ingest_telegram_messages").len(), 3);
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_keys_are_configurable_and_large_values_are_capped() {
    let exporter = InMemorySpanExporter::default();
    let guard = Tracker::builder()
        .secret_keys(["ssn"])
        .install_with_exporter(exporter.clone());
    let tracker = guard.tracker().clone();
    let params = json!({"customer_ssn": "123-45-6789", "password": "kept: not configured",
                        "blob": "x".repeat(MAX_TEXT_BYTES * 2)});
    let _ = tracker
        .run(
            TaskRun::new("t", "task-5").params(&params).expect("params"),
            async { Err::<(), _>(std::io::Error::other("e".repeat(MAX_TEXT_BYTES * 2))) },
        )
        .await;
    tracker.enqueue(
        "t",
        "task-6",
        &json!({"customer_ssn": "1", "password": "p"}),
    );

    let spans = finished(&guard, &exporter);
    let run = one(&spans, "run t");
    let sent = text(run, conv::TASK_PARAMS);
    assert!(sent.len() <= MAX_TEXT_BYTES);
    let sent: serde_json::Value = serde_json::from_str(&sent).expect("still JSON");
    assert_eq!(
        sent[tasklens_model::limits::TRUNCATED_PARAMS_KEY],
        json!(true)
    );
    assert!(!sent.to_string().contains("123-45-6789"));
    let Status::Error { description } = &run.status else {
        panic!("{:?}", run.status)
    };
    assert!(description.len() <= MAX_TEXT_BYTES);
    assert!(description.contains("truncated by tasklens"));

    let enqueue = one(&spans, "enqueue t");
    let sent: serde_json::Value =
        serde_json::from_str(&text(enqueue, conv::TASK_PARAMS)).expect("JSON");
    assert_eq!(sent, json!({"customer_ssn": "[redacted]", "password": "p"}));
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_headers_the_run_nests_in_the_callers_span_and_with_them_links_it() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    let app = guard.provider().tracer("app");
    let outer = app.start("poll queue");
    let outer_cx = Context::current_with_span(outer);
    let outer_id = outer_cx.span().span_context().span_id();

    let headers = tracker.enqueue("a", "task-7", &json!({}));
    {
        let _attached = outer_cx.clone().attach();
        let nested = tracker.start(&TaskRun::new("b", "task-8"));
        nested.succeed();
        let joined = tracker.start(&TaskRun::new("a", "task-7").headers(&headers));
        joined.succeed();
    }
    outer_cx.span().end();

    let spans = finished(&guard, &exporter);
    let nested = one(&spans, "run b");
    assert_eq!(nested.parent_span_id, outer_id);
    assert!(nested.links.is_empty());
    let joined = one(&spans, "run a");
    assert_eq!(
        joined.parent_span_id,
        one(&spans, "enqueue a").span_context.span_id()
    );
    let links: Vec<_> = joined.links.iter().collect();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].span_context.span_id(), outer_id);
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_before_it_ends_is_recorded_as_cancelled() {
    let (guard, exporter) = pipeline();
    let tracker = guard.tracker().clone();
    let outcome = tokio::time::timeout(
        Duration::from_millis(50),
        tracker.run(TaskRun::new("slow", "task-9"), async {
            std::future::pending::<Result<(), std::io::Error>>().await
        }),
    )
    .await;
    assert!(outcome.is_err(), "the timeout dropped the run");
    let spans = finished(&guard, &exporter);
    let run = one(&spans, "run slow");
    assert_eq!(text(run, conv::TASK_STATE), "failed");
    assert!(
        matches!(&run.status, Status::Error { description } if description.contains("cancelled"))
    );
    guard.shutdown().await;
}

#[test]
fn tracing_spans_inside_a_task_are_children_of_its_run() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let (guard, exporter) = pipeline();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(guard.provider().tracer("app")));
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let tracker = guard.tracker().clone();
    runtime
        .block_on(tracker.run(TaskRun::new("traced", "task-10"), async {
            tracing::info_span!("call OpenAI").in_scope(|| {});
            Ok::<(), std::io::Error>(())
        }))
        .expect("runs");
    let spans = finished(&guard, &exporter);
    let run = one(&spans, "run traced");
    let inner = one(&spans, "call OpenAI");
    assert_eq!(inner.parent_span_id, run.span_context.span_id());
    assert_eq!(inner.span_context.trace_id(), run.span_context.trace_id());
}

/// Holds every export until opened, then passes the batch on.
#[derive(Debug, Clone)]
struct GatedExporter {
    inner: InMemorySpanExporter,
    open: Arc<(Mutex<bool>, Condvar)>,
}

impl GatedExporter {
    fn open(&self) {
        let (lock, wake) = &*self.open;
        *lock.lock().expect("gate") = true;
        wake.notify_all();
    }
}

impl SpanExporter for GatedExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        {
            let (lock, wake) = &*self.open;
            let mut open = lock.lock().expect("gate");
            while !*open {
                open = wake.wait(open).expect("gate");
            }
        }
        self.inner.export(batch).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_beyond_the_buffer_are_dropped_and_counted_while_tasks_go_on() {
    let inner = InMemorySpanExporter::default();
    let exporter = GatedExporter {
        inner: inner.clone(),
        open: Arc::new((Mutex::new(false), Condvar::new())),
    };
    let guard = Tracker::builder()
        .buffer(BufferConfig {
            max_queue_size: 4,
            max_export_batch_size: 2,
            flush_interval: Duration::from_millis(10),
        })
        .install_with_exporter(exporter.clone());
    let tracker = guard.tracker().clone();
    let runs = 20;
    for n in 0..runs {
        // Each task finishes although the exporter is stuck.
        tracker
            .run(TaskRun::new("t", format!("task-{n}")), async {
                Ok::<(), std::io::Error>(())
            })
            .await
            .expect("the task is not held up");
    }
    let total_spans = runs * 2;
    assert!(tracker.dropped_spans() > 0);
    exporter.open();
    guard.flush().await;
    let delivered = inner.get_finished_spans().expect("spans").len() as u64;
    let counters = guard.counters();
    assert_eq!(counters.exported(), delivered);
    assert_eq!(counters.dropped_export_failed(), 0);
    assert_eq!(delivered + tracker.dropped_spans(), total_spans);
    guard.shutdown().await;
}

#[derive(Debug)]
struct FailingExporter;

impl SpanExporter for FailingExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Err(OTelSdkError::InternalFailure(
            "collector unreachable".into(),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_of_failed_exports_are_counted_as_dropped() {
    let guard = Tracker::builder().install_with_exporter(FailingExporter);
    let tracker = guard.tracker().clone();
    tracker
        .run(TaskRun::new("t", "task-11"), async {
            Ok::<(), std::io::Error>(())
        })
        .await
        .expect("runs");
    guard.flush().await;
    assert_eq!(guard.counters().dropped_export_failed(), 2);
    assert_eq!(tracker.dropped_spans(), 2);
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_buffer_full_runs_make_no_spans_and_leave_the_callers_span_alone() {
    let inner = InMemorySpanExporter::default();
    let exporter = GatedExporter {
        inner: inner.clone(),
        open: Arc::new((Mutex::new(false), Condvar::new())),
    };
    let guard = Tracker::builder()
        .buffer(BufferConfig {
            max_queue_size: 2,
            max_export_batch_size: 2,
            flush_interval: Duration::from_millis(10),
        })
        .install_with_exporter(exporter.clone());
    let tracker = guard.tracker().clone();
    // Fill the buffer (and the stuck export) until spans are turned away.
    // The buffer holds 2 spans and the stuck export 2 more: a few hundred fillers are plenty.
    let mut n = 0;
    while tracker.dropped_spans() == 0 {
        assert!(
            n < 500,
            "no span dropped after {n} fillers into a 2-span buffer"
        );
        tracker.enqueue("filler", &format!("f-{n}"), &json!({}));
        n += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let app = guard.provider().tracer("app");
    let outer_cx = Context::current_with_span(app.start("poll queue"));
    let before = tracker.dropped_spans();
    let outcome = {
        let _attached = outer_cx.clone().attach();
        tracker
            .run(TaskRun::new("skipped", "task-13"), async {
                Err::<(), _>(std::io::Error::other("fails while the buffer is full"))
            })
            .await
    };
    assert!(outcome.is_err(), "the task's result comes back as it was");
    assert_eq!(tracker.dropped_spans(), before + 2, "run and start counted");
    exporter.open();
    guard.flush().await;
    // The caller's span can still be recorded, and the run did not touch it.
    outer_cx.span().end();
    guard.flush().await;
    let spans = inner.get_finished_spans().expect("spans");
    assert!(named(&spans, "run skipped").is_empty());
    let outer = one(&spans, "poll queue");
    assert!(outer.attributes.is_empty(), "{:?}", outer.attributes);
    assert!(outer.events.is_empty());
    assert_eq!(outer.status, Status::Unset);
    guard.shutdown().await;
}
