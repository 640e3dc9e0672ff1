//! This project's own span conventions (`tasklens_model::conventions`).
//!
//! - Identity: `tasklens.task.id` (required), `tasklens.task.attempt` (integer, default 0), and
//!   the source `tasklens.task.source` (default `tasklens`): a start signal added to a Celery or
//!   TaskIQ worker names `celery` or `taskiq` and carries the id and attempt that library's
//!   recognizer files the run under, so both reports merge into one row. Another value, or a
//!   value that is not a string, is rejected: filed under a guessed source, the report would
//!   make a row of its own.
//! - State: an explicit `tasklens.task.state` wins (an unknown value is rejected); otherwise a
//!   PRODUCER span is pending, a CONSUMER span is finished (failed on status ERROR or an
//!   `exception` event, else success); any other kind without a state is rejected, since its
//!   meaning cannot be told.
//! - Times follow the state: running sets `started_at` (span start), finished sets
//!   `started_at` and `completed_at` (span end). `enqueued_at` is the producer span's start,
//!   or `tasklens.task.enqueued_at_unix_nano` on worker spans.
//! - Params: `tasklens.task.params`, a JSON string (kept as a JSON string value when it does not
//!   parse; a structured attribute value is converted), always redacted here whatever the sender
//!   did.
//! - Errors: the common rule; `tasklens.error.chain` is appended to the traceback under
//!   "Caused by:".

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::Value as Json;
use tasklens_model::conventions::{
    ERROR_CHAIN, TASK_ATTEMPT, TASK_ENQUEUED_AT, TASK_ID, TASK_NAME, TASK_PARAMS, TASK_QUEUE,
    TASK_SOURCE, TASK_STATE,
};
use tasklens_model::{Redactor, RunKey, SourceSystem, TaskStatus};

use super::attributes::{Attrs, preview, to_attempt, to_json, type_name};
use super::span::{Draft, Outcome, Role, SpanView, pending_state, unix_nanos};

pub(crate) fn recognize(view: &SpanView<'_>, redactor: &Redactor) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let task_name = match attrs.value(TASK_NAME) {
        Some(Value::StringValue(name)) => name.clone(),
        Some(other) => {
            return Err(format!(
                "{TASK_NAME} is {}, expected a string",
                type_name(other)
            ));
        }
        None => String::new(),
    };
    let source = source(attrs)?;
    let task_id = attrs.required_id(TASK_ID)?;
    let attempt = match attrs.int(TASK_ATTEMPT)? {
        Some(n) => to_attempt(TASK_ATTEMPT, n)?,
        None => 0,
    };
    let kind = view.kind();
    let status = match explicit_state(attrs)? {
        Some(status) => status,
        None => match kind {
            SpanKind::Producer => TaskStatus::Pending,
            SpanKind::Consumer if view.reports_error() => TaskStatus::Failed,
            SpanKind::Consumer => TaskStatus::Success,
            other => {
                return Err(format!(
                    "a {} span without {TASK_STATE}: cannot tell the run's state",
                    other.as_str_name()
                ));
            }
        },
    };
    let key = RunKey {
        source,
        task_id,
        attempt,
    };
    let role = if kind == SpanKind::Producer {
        Role::Producer
    } else {
        Role::Run
    };
    let mut run = match role {
        Role::Producer => {
            let mut run = pending_state(&envelope, key, task_name);
            // An explicit state on an enqueue span still needs its times.
            run.status = status;
            if status != TaskStatus::Pending {
                run.started_at = Some(envelope.start);
            }
            if status.is_finished() {
                run.completed_at = Some(envelope.end);
            }
            run
        }
        Role::Run => {
            let mut run = view.run_state(&envelope, key, task_name, status, None);
            run.enqueued_at = enqueued_at(attrs);
            run
        }
    };
    run.queue = attrs.str(TASK_QUEUE).map(str::to_owned);
    run.params = params(attrs, redactor);
    if status == TaskStatus::Failed {
        let mut failure = view.failure(None);
        if let Some(chain) = attrs.str(ERROR_CHAIN) {
            failure.traceback = Some(match failure.traceback {
                Some(traceback) => format!("{traceback}\n\nCaused by:\n{chain}"),
                None => format!("Caused by:\n{chain}"),
            });
        }
        failure.apply(&mut run);
    }
    Ok(Some(Draft {
        run,
        role,
        at: envelope.at,
    }))
}

fn explicit_state(attrs: Attrs<'_>) -> Result<Option<TaskStatus>, String> {
    match attrs.value(TASK_STATE) {
        None => Ok(None),
        Some(Value::StringValue(state)) if state.trim().is_empty() => Ok(None),
        Some(Value::StringValue(state)) => state
            .trim()
            .to_ascii_lowercase()
            .parse::<TaskStatus>()
            .map(Some)
            .map_err(|_| {
                format!(
                    "{TASK_STATE} is {:?}, expected one of pending, running, success, failed",
                    preview(state)
                )
            }),
        Some(other) => Err(format!(
            "{TASK_STATE} is {}, expected a string",
            type_name(other)
        )),
    }
}

/// Which system's run the span reports (see the module docs); blank counts as absent, as for
/// the state.
fn source(attrs: Attrs<'_>) -> Result<SourceSystem, String> {
    match attrs.value(TASK_SOURCE) {
        None => Ok(SourceSystem::Tasklens),
        Some(Value::StringValue(source)) if source.trim().is_empty() => Ok(SourceSystem::Tasklens),
        Some(Value::StringValue(source)) => source
            .trim()
            .to_ascii_lowercase()
            .parse::<SourceSystem>()
            .map_err(|err| {
                format!(
                    "{TASK_SOURCE} is {:?}, expected one of {}",
                    preview(source),
                    err.allowed
                )
            }),
        Some(other) => Err(format!(
            "{TASK_SOURCE} is {}, expected a string",
            type_name(other)
        )),
    }
}

/// The enqueue time from the message headers; an unusable value is dropped (it is optional).
fn enqueued_at(attrs: Attrs<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    let nanos = attrs.int(TASK_ENQUEUED_AT).ok().flatten()?;
    unix_nanos(u64::try_from(nanos).ok()?)
}

fn params(attrs: Attrs<'_>, redactor: &Redactor) -> Option<Json> {
    let any = attrs.any(TASK_PARAMS)?;
    let mut params = match any.value.as_ref() {
        Some(Value::StringValue(text)) if text.trim().is_empty() => return None,
        Some(Value::StringValue(text)) => {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
        }
        _ => to_json(any),
    };
    redactor.redact(&mut params);
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use serde_json::json;
    use tasklens_model::RunState;

    fn run_span() -> SpanBuilder {
        SpanBuilder::consumer("run score_message")
            .attr(TASK_NAME, s("score_message"))
            .attr(TASK_ID, s("t-1"))
    }

    fn recognized_run(builder: SpanBuilder) -> RunState {
        single(&recognize_spans(vec![builder.build()])).run.clone()
    }

    #[test]
    fn states_table() {
        // (span, status, started, completed, enqueued)
        let cases = [
            (run_span(), TaskStatus::Success, true, true, false),
            (
                run_span().exception("E", "boom", "tb"),
                TaskStatus::Failed,
                true,
                true,
                false,
            ),
            (
                run_span().error("boom"),
                TaskStatus::Failed,
                true,
                true,
                false,
            ),
            (
                run_span().kind(SpanKind::Producer),
                TaskStatus::Pending,
                false,
                false,
                true,
            ),
            (
                run_span()
                    .kind(SpanKind::Internal)
                    .attr(TASK_STATE, s("running")),
                TaskStatus::Running,
                true,
                false,
                false,
            ),
            (
                // the explicit state wins over the error status
                run_span().error("boom").attr(TASK_STATE, s("Success")),
                TaskStatus::Success,
                true,
                true,
                false,
            ),
        ];
        for (builder, status, started, completed, enqueued) in cases {
            let run = recognized_run(builder.clone());
            assert_eq!(run.status, status, "{builder:?}");
            assert_eq!(run.started_at.is_some(), started, "{builder:?}");
            assert_eq!(run.completed_at.is_some(), completed, "{builder:?}");
            assert_eq!(run.enqueued_at.is_some(), enqueued, "{builder:?}");
        }
    }

    #[test]
    fn a_finished_run_has_its_times_ids_and_worker() {
        let run = recognized_run(
            run_span()
                .attr(TASK_ATTEMPT, i(2))
                .attr(TASK_QUEUE, s("scoring"))
                .attr(TASK_ENQUEUED_AT, i((T0 - 3 * MS) as i64)),
        );
        assert_eq!(
            run.key(),
            RunKey {
                source: SourceSystem::Tasklens,
                task_id: "t-1".into(),
                attempt: 2
            }
        );
        assert_eq!(run.started_at, Some(at(T0)));
        assert_eq!(run.completed_at, Some(at(T0 + 10 * MS)));
        assert_eq!(run.enqueued_at, Some(at(T0 - 3 * MS)));
        assert_eq!(run.queue_wait_ms(), Some(3));
        assert_eq!(run.queue.as_deref(), Some("scoring"));
        assert_eq!(run.trace_id, Some([1; 16]));
        assert_eq!(run.span_id, Some([2; 8]));
        assert_eq!(run.service_name.as_deref(), Some(SERVICE));
        assert_eq!(run.worker_host.as_deref(), Some(HOST));
    }

    #[test]
    fn a_producer_span_carries_no_worker_fields() {
        let run = recognized_run(
            run_span()
                .kind(SpanKind::Producer)
                .attr(TASK_ENQUEUED_AT, i(1)),
        );
        assert_eq!(run.enqueued_at, Some(at(T0)));
        assert_eq!((run.trace_id, run.span_id), (None, None));
        assert_eq!((run.service_name, run.worker_host), (None, None));
    }

    #[test]
    fn failures_carry_the_exception_and_the_error_chain() {
        let run = recognized_run(
            run_span()
                .exception("ScoreError", "scoring failed", "at score()")
                .attr(ERROR_CHAIN, s("timeout\nconnection reset")),
        );
        assert_eq!(run.error_message.as_deref(), Some("scoring failed"));
        assert_eq!(run.error_type.as_deref(), Some("ScoreError"));
        assert_eq!(
            run.error_traceback.as_deref(),
            Some("at score()\n\nCaused by:\ntimeout\nconnection reset")
        );
        let run = recognized_run(run_span().error("").attr(ERROR_CHAIN, s("cause")));
        assert_eq!(
            run.error_message.as_deref(),
            Some("task failed (no error message was reported)")
        );
        assert_eq!(run.error_traceback.as_deref(), Some("Caused by:\ncause"));
        // a run that succeeded keeps no error fields
        let run = recognized_run(run_span().attr(ERROR_CHAIN, s("cause")));
        assert_eq!(run.error_traceback, None);
    }

    #[test]
    fn params_are_parsed_and_always_redacted() {
        let cases = [
            (
                s(r#"{"user": "ann", "password": "hunter2", "nested": {"API_KEY": "k"}}"#),
                Some(
                    json!({"user": "ann", "password": "[redacted]", "nested": {"API_KEY": "[redacted]"}}),
                ),
            ),
            (s("not json {"), Some(json!("not json {"))),
            (s("  "), None),
            (
                kv(vec![attr("token", s("t")), attr("id", i(3))]),
                Some(json!({"token": "[redacted]", "id": 3})),
            ),
            (i(5), Some(json!(5))),
        ];
        for (value, expected) in cases {
            let run = recognized_run(run_span().attr(TASK_PARAMS, value.clone()));
            assert_eq!(run.params, expected, "{value:?}");
        }
    }

    #[test]
    fn rejections() {
        let cases = [
            (
                SpanBuilder::consumer("run x").attr(TASK_NAME, s("x")),
                "tasklens.task.id is missing",
            ),
            (
                run_span().attr(TASK_STATE, s("done")),
                "tasklens.task.state is \"done\", expected one of pending, running, success, failed",
            ),
            (
                run_span().attr(TASK_STATE, i(1)),
                "tasklens.task.state is an int, expected a string",
            ),
            (
                run_span().attr(TASK_ATTEMPT, i(1 << 40)),
                "tasklens.task.attempt is 1099511627776, out of range for an attempt number",
            ),
            (
                run_span().kind(SpanKind::Internal),
                "a SPAN_KIND_INTERNAL span without tasklens.task.state: cannot tell the run's state",
            ),
            (
                SpanBuilder::consumer("run x")
                    .attr(TASK_NAME, b(true))
                    .attr(TASK_ID, s("t")),
                "tasklens.task.name is a bool, expected a string",
            ),
            (
                SpanBuilder::consumer("run x")
                    .attr(TASK_NAME, s(" "))
                    .attr(TASK_ID, s("t")),
                "run t (attempt 0) of task \" \" breaks rule task_name_required: a run needs a non-empty task name",
            ),
        ];
        for (builder, reason) in cases {
            let recognized = recognize_spans(vec![builder.build()]);
            assert!(recognized.events.is_empty(), "{reason}");
            assert_eq!(recognized.rejected.len(), 1);
            assert!(
                recognized.rejected[0].ends_with(reason),
                "{:?} does not end with {reason:?}",
                recognized.rejected[0]
            );
        }
    }

    /// The start signal a Celery or TaskIQ worker sends (`docs/conventions.md`).
    fn start_signal(source: AnyValue) -> SpanBuilder {
        SpanBuilder::new("start score_message")
            .kind(SpanKind::Internal)
            .ids(4, 9)
            .parent(1)
            .times(T0 + MS, T0 + MS)
            .attr(TASK_NAME, s("score_message"))
            .attr(TASK_ID, s("t-1"))
            .attr(TASK_ATTEMPT, i(1))
            .attr(TASK_STATE, s("running"))
            .attr(TASK_SOURCE, source)
    }

    #[test]
    fn the_source_attribute_files_the_run_under_another_system() {
        let cases = [
            (s("celery"), SourceSystem::Celery),
            (s(" TaskIQ "), SourceSystem::Taskiq),
            (s("tasklens"), SourceSystem::Tasklens),
            (s(""), SourceSystem::Tasklens),
        ];
        for (value, source) in cases {
            let run = recognized_run(start_signal(value.clone()));
            assert_eq!(
                run.key(),
                RunKey {
                    source,
                    task_id: "t-1".into(),
                    attempt: 1
                },
                "{value:?}"
            );
            assert_eq!(run.status, TaskStatus::Running);
        }
        let rejected = |value: AnyValue| recognize_spans(vec![start_signal(value).build()]);
        for (value, reason) in [
            (
                s("rq"),
                "tasklens.task.source is \"rq\", expected one of tasklens, celery, taskiq, bullmq, sidekiq, messaging",
            ),
            (i(2), "tasklens.task.source is an int, expected a string"),
        ] {
            let recognized = rejected(value);
            assert!(recognized.events.is_empty(), "{reason}");
            assert_eq!(
                recognized.rejected,
                vec![format!(
                    "span {} (\"start score_message\"): {reason}",
                    sid_hex(9)
                )]
            );
        }
    }

    /// The start signal before or after the library's own spans gives one run that ends in the
    /// run span's state (a late "running" never reopens it).
    fn converges(start: SpanBuilder, library_spans: Vec<SpanBuilder>, status: TaskStatus) {
        let library: Vec<_> = library_spans.into_iter().map(SpanBuilder::build).collect();
        let start = start.build();
        let start_first = std::iter::once(start.clone()).chain(library.clone());
        let start_last = library.into_iter().chain(std::iter::once(start));
        for order in [start_first.collect::<Vec<_>>(), start_last.collect()] {
            let mut recognizer = recognizer();
            // one request per span, as separate exports would arrive
            let events: Vec<RunState> = order
                .into_iter()
                .flat_map(|span| recognizer.traces(&traces(vec![span]), observed()).events)
                .map(|event| event.run)
                .collect();
            let key = events[0].key();
            assert!(events.iter().all(|e| e.key() == key), "{events:#?}");
            let merged = events
                .iter()
                .cloned()
                .reduce(RunState::merge)
                .expect("events");
            assert_eq!(merged.status, status);
            // the run span started before the start signal: the run started then
            assert_eq!(merged.started_at, Some(at(T0)));
            // whatever the order of the merge itself
            let back = events.into_iter().rev().reduce(RunState::merge);
            assert_eq!(back, Some(merged));
        }
    }

    #[test]
    fn a_celery_start_signal_merges_with_the_celery_run() {
        let run = SpanBuilder::consumer("run/score_message")
            .ids(4, 1)
            .attr("celery.action", s("run"))
            .attr("celery.task_name", s("score_message"))
            .attr("messaging.message.id", s("t-1"))
            .attr("celery.retries", i(1));
        converges(
            start_signal(s("celery")),
            vec![run.clone().attr("celery.state", s("SUCCESS"))],
            TaskStatus::Success,
        );
        converges(
            start_signal(s("celery")),
            vec![run.attr("celery.state", s("FAILURE")).error("boom")],
            TaskStatus::Failed,
        );
    }

    #[test]
    fn a_taskiq_start_signal_merges_with_the_taskiq_run() {
        let execute = SpanBuilder::consumer("execute/score_message")
            .ids(4, 1)
            .parent(7)
            .attr("taskiq.action", s("execute"))
            .attr("taskiq.task_name", s("score_message"));
        let send = SpanBuilder::producer("send/score_message")
            .ids(4, 7)
            .attr("taskiq.action", s("send"))
            .attr("messaging.message.id", s("t-1"))
            .attr("taskiq._retries", s("1"));
        // joined to its producer
        converges(
            start_signal(s("taskiq")),
            vec![send, execute.clone()],
            TaskStatus::Success,
        );
        // no producer seen: the stamp the middleware put on the run span gives the key
        converges(
            start_signal(s("taskiq")),
            vec![
                execute
                    .attr(TASK_ID, s("t-1"))
                    .attr(TASK_ATTEMPT, i(1))
                    .error("boom"),
            ],
            TaskStatus::Failed,
        );
    }

    #[test]
    fn an_attempt_may_come_as_a_string() {
        let run = recognized_run(run_span().attr(TASK_ATTEMPT, s("3")));
        assert_eq!(run.attempt, 3);
    }
}
