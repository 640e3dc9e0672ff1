//! Edge cases of the Celery rules on hand-built spans; the recorded Celery spans (`celery/`,
//! `celery-worker/`) are checked in `tests/fixtures_replay.rs`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use tasklens_model::RunState;

use super::super::testing::*;
use super::*;

const TASK: &str = "244be644-7d25-4174-890f-5164d27d777e";

/// The run span of the recorded fixtures, minus the attributes tasklens does not read.
fn run_span(span_n: u8) -> SpanBuilder {
    run_span_from(Some("gen489@vm"), span_n)
}

/// The same with this `celery.hostname` (the recorded ones: the producer's `gen<pid>@<host>`).
fn run_span_from(hostname: Option<&str>, span_n: u8) -> SpanBuilder {
    let span = SpanBuilder::consumer("run/embed_messages_batch")
        .ids(4, span_n)
        .attr("celery.action", s("run"))
        .attr("messaging.destination", s("celery"))
        .attr(
            "celery.delivery_info",
            s("{'exchange': '', 'routing_key': 'celery', 'priority': 0, 'redelivered': False}"),
        )
        .attr("messaging.message.id", s(TASK))
        .attr("celery.task_name", s("embed_messages_batch"));
    match hostname {
        Some(hostname) => span.attr("celery.hostname", s(hostname)),
        None => span,
    }
}

fn apply_async(span_n: u8) -> SpanBuilder {
    SpanBuilder::producer("apply_async/embed_messages_batch")
        .ids(4, span_n)
        .attr("celery.action", s("apply_async"))
        .attr("messaging.message.id", s(TASK))
        .attr("celery.task_name", s("embed_messages_batch"))
        .attr("messaging.destination", s("celery"))
}

fn run_of(builder: SpanBuilder) -> RunState {
    single(&recognize_spans(vec![builder.build()])).run.clone()
}

#[test]
fn run_states_table() {
    // (span, status, attempt, message)
    let cases = [
        (
            run_span(1).attr("celery.state", s("SUCCESS")),
            TaskStatus::Success,
            0,
            None,
        ),
        (
            run_span(1)
                .attr("celery.state", s("FAILURE"))
                .error("message -1 not found in the store")
                .exception(
                    "ValueError",
                    "message -1 not found in the store",
                    "Traceback...",
                ),
            TaskStatus::Failed,
            0,
            Some("message -1 not found in the store"),
        ),
        (
            run_span(1)
                .attr("celery.state", s("FAILURE"))
                .error("status only"),
            TaskStatus::Failed,
            0,
            Some("status only"),
        ),
        (
            run_span(1).attr("celery.state", s("RETRY")).attr(
                "celery.retry.reason",
                s("Retry in 0s: ConnectionError('embedding service unavailable')"),
            ),
            TaskStatus::Failed,
            0,
            Some("Retry in 0s: ConnectionError('embedding service unavailable')"),
        ),
        (
            run_span(1)
                .attr("celery.state", s("SUCCESS"))
                .attr("celery.retries", i(1)),
            TaskStatus::Success,
            1,
            None,
        ),
        (
            run_span(1)
                .attr("celery.state", s("IGNORED"))
                .attr("celery.retries", s("2")),
            TaskStatus::Success,
            2,
            None,
        ),
        (
            // no celery.state: terminated before task_postrun (revoke with terminate=True)
            run_span(1).attr("celery.retries", s("2")),
            TaskStatus::Failed,
            2,
            Some(TERMINATED_MESSAGE),
        ),
        (
            // no celery.state, but another exporter's error: that error
            run_span(1).error("killed"),
            TaskStatus::Failed,
            0,
            Some("killed"),
        ),
        (
            run_span(1).attr("celery.state", s("REVOKED")).error(""),
            TaskStatus::Failed,
            0,
            Some("task failed (no error message was reported)"),
        ),
    ];
    for (builder, status, attempt, message) in cases {
        let run = run_of(builder.clone());
        assert_eq!(run.status, status, "{builder:?}");
        assert_eq!(run.attempt, attempt, "{builder:?}");
        assert_eq!(run.error_message.as_deref(), message, "{builder:?}");
    }
}

#[test]
fn a_run_has_its_worker_queue_and_times() {
    let run = run_of(run_span(1).attr("celery.state", s("SUCCESS")));
    assert_eq!(run.task_id, TASK);
    assert_eq!(run.task_name, "embed_messages_batch");
    // gen489@vm is the producer's origin: the worker is the resource's host
    assert_eq!(run.worker_host.as_deref(), Some(HOST));
    assert_eq!(run.service_name.as_deref(), Some(SERVICE));
    assert_eq!(run.queue.as_deref(), Some("celery"));
    assert_eq!(run.started_at, Some(at(T0)));
    assert_eq!(run.completed_at, Some(at(T0 + 10 * MS)));
    assert_eq!(run.span_id, Some([1; 8]));
}

#[test]
fn fallbacks_for_name_id_and_queue() {
    let run = run_of(
        SpanBuilder::consumer("run/score_message")
            .attr("celery.action", s("run"))
            .attr("messaging.message_id", s("t-9"))
            .attr(
                "celery.delivery_info",
                s("{'exchange': '', 'routing_key': 'priority', 'priority': 0}"),
            ),
    );
    assert_eq!(run.task_name, "score_message");
    assert_eq!(run.task_id, "t-9");
    assert_eq!(run.queue.as_deref(), Some("priority"));
    assert_eq!(run.worker_host.as_deref(), Some(HOST));
}

#[test]
fn routing_keys_from_delivery_info() {
    let cases = [
        ("{'exchange': '', 'routing_key': 'celery'}", Some("celery")),
        ("{\"routing_key\": \"q\"}", None), // JSON, not a repr: no single-quoted key
        ("{'routing_key':'q2'}", Some("q2")),
        ("{'routing_key': None}", None),
        ("{'routing_key': ''}", None),
        ("{'routing_key': 'unterminated", None),
        ("'routing_key'", None),
    ];
    for (info, expected) in cases {
        assert_eq!(routing_key(info).as_deref(), expected, "{info}");
    }
}

#[test]
fn the_producer_reports_a_pending_run() {
    let run = run_of(apply_async(9));
    assert_eq!(run.status, TaskStatus::Pending);
    assert_eq!(run.key().attempt, 0);
    assert_eq!(run.task_id, TASK);
    assert_eq!(run.enqueued_at, Some(at(T0)));
    assert_eq!(run.queue.as_deref(), Some("celery"));
    assert_eq!((run.trace_id, run.worker_host), (None, None));
}

/// The recorded retry: run 0 (RETRY) sends the retry from inside itself; run 1 succeeds.
#[test]
fn a_retry_producer_enqueues_the_next_attempt_in_any_order() {
    let spans = || {
        vec![
            apply_async(0x11).parent(0x44).build(),
            run_span(0x44)
                .parent(0xd2)
                .attr("celery.state", s("RETRY"))
                .attr("celery.retry.reason", s("Retry in 0s"))
                .build(),
            run_span(0xfc)
                .parent(0x11)
                .attr("celery.state", s("SUCCESS"))
                .attr("celery.retries", i(1))
                .build(),
        ]
    };
    let key_status = |recognized: &crate::recognize::Recognized| {
        let mut keys: Vec<_> = recognized
            .events
            .iter()
            .map(|e| (e.run.attempt, e.run.status))
            .collect();
        keys.sort();
        keys
    };
    let expected = vec![
        (0, TaskStatus::Failed),
        (1, TaskStatus::Pending),
        (1, TaskStatus::Success),
    ];
    // one request, producer listed first
    assert_eq!(key_status(&recognize_spans(spans())), expected);
    // the run span in an earlier request than its retry producer
    let mut recognizer = recognizer();
    let [producer, run0, run1]: [_; 3] = spans().try_into().expect("three spans");
    let first = recognizer.traces(&traces(vec![run0]), observed());
    let second = recognizer.traces(&traces(vec![producer, run1]), observed());
    let mut all = key_status(&first);
    all.extend(key_status(&second));
    all.sort();
    assert_eq!(all, expected);
}

#[test]
fn a_producer_under_another_tasks_run_enqueues_attempt_0() {
    let spans = vec![
        run_span(0x44).attr("celery.state", s("SUCCESS")).build(),
        SpanBuilder::producer("apply_async/other_task")
            .ids(4, 0x11)
            .parent(0x44)
            .attr("celery.action", s("apply_async"))
            .attr("messaging.message.id", s("other"))
            .build(),
    ];
    let recognized = recognize_spans(spans);
    let producer = recognized
        .events
        .iter()
        .find(|e| e.run.status == TaskStatus::Pending);
    assert_eq!(producer.map(|e| e.run.attempt), Some(0));
}

#[test]
fn a_linked_run_joins_by_task_id() {
    // use_span_links=True: the run starts a new trace with a link to the producer
    let recognized = recognize_spans(vec![
        apply_async(1).build(),
        run_span(2)
            .ids(9, 2)
            .link(4, 1)
            .attr("celery.state", s("SUCCESS"))
            .build(),
    ]);
    let keys: Vec<_> = recognized.events.iter().map(|e| e.run.key()).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
}

#[test]
fn other_actions_are_ignored() {
    let recognized = recognize_spans(vec![
        SpanBuilder::new("x")
            .attr("celery.action", s("revoke"))
            .build(),
        SpanBuilder::new("x").attr("celery.action", i(1)).build(),
    ]);
    assert_eq!(recognized.ignored, 2);
    assert!(recognized.events.is_empty() && recognized.rejected.is_empty());
}

#[test]
fn the_worker_host_is_never_the_producers_anonymous_node_name() {
    // (celery.hostname, resource host.name, worker host)
    let cases = [
        (Some("gen14748@vm"), Some("vm"), Some("vm")),
        (Some("gen14748@web-1"), None, None),
        (Some("celery@worker-7"), Some("vm"), Some("celery@worker-7")),
        (Some("generator@box"), None, Some("generator@box")),
        (Some("gen@box"), None, Some("gen@box")),
        (Some("gen12x@box"), None, Some("gen12x@box")),
        (Some("  "), Some("vm"), Some("vm")),
        (None, Some("vm"), Some("vm")),
    ];
    for (hostname, host_name, expected) in cases {
        let span = run_span_from(hostname, 1).attr("celery.state", s("SUCCESS"));
        let resource = match host_name {
            Some(host) => vec![attr("host.name", s(host))],
            None => vec![attr("service.name", s(SERVICE))],
        };
        let recognized =
            recognizer().traces(&with_resource(resource, vec![span.build()]), observed());
        let host = single(&recognized).run.worker_host.clone();
        assert_eq!(host.as_deref(), expected, "{hostname:?} {host_name:?}");
    }
}

/// The recorded hard time limit and revoke(terminate=True): a run span without celery.state.
#[test]
fn a_terminated_run_is_failed_and_a_hard_time_limit_says_so() {
    let limit = |hard: AnyValue, soft: AnyValue| array(vec![hard, soft]);
    // (time limit, span length in ms, error type, message start)
    let cases = [
        (
            Some(limit(s("1"), s(""))),
            1_018,
            Some(TIME_LIMIT_TYPE),
            "TimeLimitExceeded(1): ",
        ),
        (
            Some(limit(s("1"), s(""))),
            950,
            Some(TIME_LIMIT_TYPE),
            "TimeLimitExceeded(1): ",
        ),
        (
            Some(limit(i(30), i(20))),
            30_500,
            Some(TIME_LIMIT_TYPE),
            "TimeLimitExceeded(30): ",
        ),
        (
            Some(limit(d(2.5), s(""))),
            2_600,
            Some(TIME_LIMIT_TYPE),
            "TimeLimitExceeded(2.5): ",
        ),
        // terminated well before its hard limit: revoked, or a signal
        (
            Some(limit(s("10"), s(""))),
            325,
            None,
            "the worker process was terminated",
        ),
        // only a soft limit, or none, or junk
        (
            Some(limit(s(""), s("1"))),
            1_018,
            None,
            "the worker process was terminated",
        ),
        (None, 325, None, "the worker process was terminated"),
        (
            Some(s("1")),
            1_018,
            None,
            "the worker process was terminated",
        ),
        (
            Some(limit(s("-1"), s(""))),
            1_018,
            None,
            "the worker process was terminated",
        ),
        (
            Some(array(vec![])),
            1_018,
            None,
            "the worker process was terminated",
        ),
    ];
    for (timelimit, ms, error_type, message) in cases {
        let mut span = run_span(1).times(T0, T0 + ms * MS);
        if let Some(value) = timelimit.clone() {
            span = span.attr("celery.timelimit", value);
        }
        let run = run_of(span);
        assert_eq!(run.status, TaskStatus::Failed, "{timelimit:?}");
        assert_eq!(run.error_type.as_deref(), error_type, "{timelimit:?} {ms}");
        let text = run.error_message.unwrap_or_default();
        assert!(text.starts_with(message), "{timelimit:?} {ms}: {text}");
        assert_eq!(run.completed_at, Some(at(T0 + ms * MS)));
    }
}

/// One request with `spans` under a resource of these attributes.
fn with_resource(attributes: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    let mut request = traces(spans);
    for resource_spans in &mut request.resource_spans {
        resource_spans.resource = Some(Resource {
            attributes: attributes.clone(),
            ..Default::default()
        });
    }
    request
}

#[test]
fn a_retried_attempt_has_the_type_named_in_its_reason() {
    let cases = [
        (
            "Retry in 1s: ConnectionError('feed 8 unreachable (attempt 0)')",
            Some("ConnectionError"),
        ),
        (
            "Retry in 0s: requests.exceptions.Timeout()",
            Some("requests.exceptions.Timeout"),
        ),
        (
            "Retry at 2026-12-02 19:40:13: KeyError('x')",
            Some("KeyError"),
        ),
        ("Retry in 5s", None),
        ("rate limited, try later", None),
        ("Retry in 1s: not an exception (really", None),
        ("Retry in 1s: two words('x')", None),
    ];
    for (reason, error_type) in cases {
        let run = run_of(
            run_span(1)
                .attr("celery.state", s("RETRY"))
                .attr("celery.retry.reason", s(reason)),
        );
        assert_eq!(run.error_type.as_deref(), error_type, "{reason}");
        assert_eq!(run.error_message.as_deref(), Some(reason));
    }
    // an exception event's type wins
    let run = run_of(
        run_span(1)
            .attr("celery.state", s("RETRY"))
            .attr(
                "celery.retry.reason",
                s("Retry in 1s: ConnectionError('x')"),
            )
            .exception("OSError", "x", "Traceback"),
    );
    assert_eq!(run.error_type.as_deref(), Some("OSError"));
}
