//! Celery (`opentelemetry-instrumentation-celery`).
//!
//! - Run span (`celery.action` = `run`, `run/{task}`): task `celery.task_name` (else the span
//!   name after `run/`), task id `messaging.message.id` (older `messaging.message_id`),
//!   attempt `celery.retries` (int or decimal string, absent on the first run). State from
//!   `celery.state`: SUCCESS is success; FAILURE and RETRY are failed (a RETRY span is an
//!   attempt that failed, its retry is the next attempt); anything else is failed on status
//!   ERROR or an `exception` event, else success. A RETRY span has no exception event: its
//!   message is `celery.retry.reason`. Worker host `celery.hostname` (the worker's node name,
//!   e.g. `celery@host`). Queue from `messaging.destination.name`, `messaging.destination`, or
//!   the routing key in `celery.delivery_info` (a Python dict repr).
//! - Producer span (`celery.action` = `apply_async`): pending, enqueued at the span start, same
//!   task id. Attempt 0, except a retry: Celery re-sends the task from inside the failing run,
//!   so a producer whose parent is a known Celery run of the same task id enqueues that run's
//!   attempt + 1.
//! - Any other `celery.action` is not a run (ignored).

use tasklens_model::limits::{MAX_NAME_BYTES, cap_text};
use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use super::attributes::{Attrs, to_attempt};
use super::join::Joins;
use super::span::{Draft, Outcome, Role, SpanView, name_after, pending_state};

const TASK_ID_KEYS: [&str; 2] = ["messaging.message.id", "messaging.message_id"];

pub(crate) fn recognize(view: &SpanView<'_>, joins: &Joins) -> Outcome {
    match view.attrs.str("celery.action").map(str::trim) {
        Some("run") => run(view),
        Some("apply_async") => producer(view, joins),
        _ => Ok(None),
    }
}

fn task_id(attrs: Attrs<'_>) -> Result<String, String> {
    attrs.first_id(&TASK_ID_KEYS).ok_or_else(|| {
        format!(
            "no task id: {} and {} are missing",
            TASK_ID_KEYS[0], TASK_ID_KEYS[1]
        )
    })
}

fn task_name(view: &SpanView<'_>, prefix: &str) -> String {
    view.attrs
        .str("celery.task_name")
        .or_else(|| name_after(&view.span.name, prefix))
        .unwrap_or_default()
        .to_owned()
}

fn run(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let task_id = task_id(attrs)?;
    let attempt = match attrs.int("celery.retries")? {
        Some(n) => to_attempt("celery.retries", n)?,
        None => 0,
    };
    let status = match attrs.str("celery.state").map(str::trim) {
        Some("SUCCESS") => TaskStatus::Success,
        Some("FAILURE" | "RETRY") => TaskStatus::Failed,
        _ if view.reports_error() => TaskStatus::Failed,
        _ => TaskStatus::Success,
    };
    let key = RunKey {
        source: SourceSystem::Celery,
        task_id,
        attempt,
    };
    let mut run = view.run_state(
        &envelope,
        key,
        task_name(view, "run/"),
        status,
        attrs.str("celery.hostname"),
    );
    run.queue = queue(attrs);
    if status == TaskStatus::Failed {
        view.failure(attrs.str("celery.retry.reason"))
            .apply(&mut run);
    }
    Ok(Some(Draft {
        run,
        role: Role::Run,
        at: envelope.at,
    }))
}

fn producer(view: &SpanView<'_>, joins: &Joins) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let task_id = task_id(attrs)?;
    let retried_run = envelope
        .parent
        .and_then(|parent| joins.runs.get(&parent))
        .filter(|fact| {
            fact.key.source == SourceSystem::Celery
                && fact.key.task_id == cap_text(task_id.clone(), MAX_NAME_BYTES)
        });
    let attempt = match retried_run {
        Some(fact) => fact.key.attempt.saturating_add(1),
        None => 0,
    };
    let key = RunKey {
        source: SourceSystem::Celery,
        task_id,
        attempt,
    };
    let mut run = pending_state(&envelope, key, task_name(view, "apply_async/"));
    run.queue = queue(attrs);
    Ok(Some(Draft {
        run,
        role: Role::Producer,
        at: envelope.at,
    }))
}

fn queue(attrs: Attrs<'_>) -> Option<String> {
    attrs
        .first_str(&["messaging.destination.name", "messaging.destination"])
        .map(str::to_owned)
        .or_else(|| attrs.str("celery.delivery_info").and_then(routing_key))
}

/// The routing key in a delivery info dict repr:
/// `{'exchange': '', 'routing_key': 'celery', 'priority': 0, 'redelivered': False}`.
fn routing_key(info: &str) -> Option<String> {
    let rest = &info[info.find("'routing_key'")? + "'routing_key'".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let value = &rest[1..];
    let end = value.find(quote)?;
    let key = &value[..end];
    (!key.trim().is_empty()).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use tasklens_model::RunState;

    const TASK: &str = "244be644-7d25-4174-890f-5164d27d777e";

    /// The run span of the recorded fixtures, minus the attributes tasklens does not read.
    fn run_span(span_n: u8) -> SpanBuilder {
        SpanBuilder::consumer("run/embed_messages_batch")
            .ids(4, span_n)
            .attr("celery.action", s("run"))
            .attr("messaging.destination", s("celery"))
            .attr(
                "celery.delivery_info",
                s("{'exchange': '', 'routing_key': 'celery', 'priority': 0, 'redelivered': False}"),
            )
            .attr("messaging.message.id", s(TASK))
            .attr("celery.hostname", s("gen489@vm"))
            .attr("celery.task_name", s("embed_messages_batch"))
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
                run_span(1).attr("celery.retries", s("2")),
                TaskStatus::Success,
                2,
                None,
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
        assert_eq!(run.worker_host.as_deref(), Some("gen489@vm"));
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
}
