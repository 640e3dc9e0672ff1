//! Recognition: which spans (and log records) of an OTLP export are task runs, and the
//! [`TaskRunEvent`]s they report.
//!
//! Each span goes to the first recognizer that claims it, in this order:
//!
//! | source      | claims a span that has                                                      |
//! |-------------|-----------------------------------------------------------------------------|
//! | `tasklens`  | attribute `tasklens.task.name` (this project's conventions)                 |
//! | `celery`    | attribute `celery.action`                                                   |
//! | `taskiq`    | attribute `taskiq.action` or `taskiq.task_name`                             |
//! | `bullmq`    | any `bullmq.*` attribute, kind CONSUMER or PRODUCER                         |
//! | `sidekiq`   | `messaging.system` = `sidekiq`                                              |
//! | `messaging` | `messaging.system`, with operation `process` (CONSUMER) or `send`/`create`/`publish` (PRODUCER) |
//!
//! A `tasklens` span that names another source (`tasklens.task.source`, the start signal of a
//! Celery or TaskIQ worker) is counted as `tasklens` here, and its run filed under that source.
//!
//! Anything else is counted as ignored, never an error. A claimed span either yields one event
//! or is rejected with a reason (bad ids, missing times, no task id...); a recognizer may also
//! find that a claimed span is not a run after all (e.g. a Celery span whose action is neither
//! `run` nor `apply_async`), which counts as ignored.
//!
//! Every rule shared by the sources lives in `span.rs`: a task span needs a 16-byte trace id,
//! an 8-byte span id (neither all zeros), a parent id of 8 bytes or none, and a start and an end
//! time (non-zero, end not before start). Producer spans report a pending run enqueued at their
//! start; worker spans report a running or finished run with the trace ids, the worker's
//! `service.name` and host. A failed run's message comes from the first `exception` event, else
//! the ERROR status message, else the source's own reason, else a fixed text. The secrets in a
//! run's error message and traceback are redacted ([`Redactor::redact_text`]) before the caps
//! apply, so a cut never leaves half a secret that no rule recognizes. Every event passes
//! [`TaskRunEvent::prepare`] (caps, timestamp precision, rules) before it is returned; one that
//! does not is rejected with the broken rule.
//!
//! Joins across requests, and across collector replicas: a span is recognized alone, and its
//! event names the span it depends on (`join.rs`); the store resolves these joins in the
//! transaction that writes the batch (`tasklens_store::joins`), so they hold whichever replica
//! receives which span, in any order:
//! - TaskIQ run spans carry no task id: it is their parent producer span's message id (see
//!   `taskiq.rs` for the fallback when the parent was not seen, and for the run spans that the
//!   tasklens start middleware stamps with their id);
//! - Celery retry producers are children of the run that asked for the retry: they enqueue the
//!   next attempt;
//! - exceptions reported as log records join the run span they were logged in (see
//!   [`Recognizer::logs`]).
//!
//! A recognizer made with [`Recognizer::new`] resolves them itself, against a bounded memory of
//! its own process (the same rule): for callers without a store.
//!
//! Architecture Invariant: pure logic, no I/O and no async; nothing from the network is
//! unwrapped.

mod attributes;
mod bullmq;
mod celery;
mod join;
mod messaging;
mod sidekiq;
mod span;
mod taskiq;
mod tasklens;
#[cfg(test)]
mod testing;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tasklens_model::conventions::{
    EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE, TASK_NAME,
};
use tasklens_model::{Redactor, SourceSystem, TaskRunEvent};

use attributes::Attrs;
use join::{ErrorReport, Join, Joins, SpanRef};
use span::{Draft, Outcome, ResourceInfo, SpanView, fixed_id};
use tasklens_store::joins::{JoinBatch, MemoryJoins};

/// Turns OTLP exports into task-run events. Holds the redactor and says where joins are
/// resolved; one instance serves every request (callers serialise access).
#[derive(Debug)]
pub struct Recognizer {
    redactor: Redactor,
    joins: Joins,
}

/// What one export yielded.
#[derive(Debug, Default)]
pub struct Recognized {
    /// Events that passed [`TaskRunEvent::prepare`] (already capped and truncated), their joins
    /// resolved or needing none.
    pub events: Vec<TaskRunEvent>,
    /// Events and error reports whose joins the store resolves when it writes them (empty for
    /// a recognizer that resolves its own).
    pub joins: JoinBatch,
    /// Spans claimed as task spans, per source, whether they yielded an event or were rejected.
    /// Every span is counted once: here or in `ignored`. Log records are not counted here.
    pub spans_by_source: BTreeMap<SourceSystem, u64>,
    /// Spans (or log records) that are not task runs: counted, never an error.
    pub ignored: u64,
    /// Task spans (or error log records) that can never be accepted, each with its reason. Log
    /// records held until their run span arrives are in none of these counts.
    pub rejected: Vec<String>,
}

impl Recognized {
    fn count(&mut self, source: SourceSystem) {
        *self.spans_by_source.entry(source).or_default() += 1;
    }
}

impl Recognizer {
    /// A recognizer that resolves its joins itself, against a memory of this process:
    /// `join_capacity` bounds the spans remembered with their run, and the error reports
    /// waiting for their run span (at most 2,000 of these: one holds up to ~130 KB).
    pub fn new(redactor: Redactor, join_capacity: usize) -> Self {
        Recognizer {
            redactor,
            joins: Joins::Local(Box::new(MemoryJoins::new(join_capacity))),
        }
    }

    /// A recognizer that leaves joins to the store ([`Recognized::joins`]), so that they hold
    /// across collector replicas.
    pub fn joining_in_store(redactor: Redactor) -> Self {
        Recognizer {
            redactor,
            joins: Joins::InStore,
        }
    }

    /// Recognizes the task runs of a trace export.
    pub fn traces(
        &mut self,
        request: &ExportTraceServiceRequest,
        observed_at: DateTime<Utc>,
    ) -> Recognized {
        let mut spans = Vec::new();
        for resource_spans in &request.resource_spans {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|r| ResourceInfo::from_attrs(Attrs(&r.attributes)))
                .unwrap_or_default();
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    let view = SpanView::new(span, resource);
                    spans.push((view, classify(&view)));
                }
            }
        }

        let mut out = Recognized::default();
        let mut batch = JoinBatch::default();
        // Worker spans first, then producer spans (the order of the rejections; the joins do
        // not depend on the order of spans).
        for producers in [false, true] {
            for (view, source) in &spans {
                if (view.kind() == SpanKind::Producer) != producers {
                    continue;
                }
                let Some(source) = *source else {
                    out.ignored += 1;
                    continue;
                };
                let outcome = self.recognize_span(view, source);
                self.settle(view, source, outcome, observed_at, &mut out, &mut batch);
            }
        }
        self.finish(batch, out)
    }

    /// Resolves the joins here, or leaves them to the store.
    fn finish(&mut self, batch: JoinBatch, mut out: Recognized) -> Recognized {
        let (events, joins) = self.joins.settle(batch);
        out.events = events;
        out.joins = joins;
        out
    }

    /// Recognizes error reports in a log export: a log record with `exception.*` attributes and
    /// a trace and span id reports the error of the run whose run span has that id. The event
    /// carries the error fields and status `pending`, the lowest, so it never changes the run's
    /// status (the merge keeps the higher one). A report whose run span has not been seen yet
    /// waits (in the store, or bounded here) and is emitted when that span arrives; reports for
    /// one span are folded with the merge rule while they wait.
    ///
    /// Log records without exception attributes, or without trace context, are ignored; ids of
    /// the wrong length are rejected.
    pub fn logs(
        &mut self,
        request: &ExportLogsServiceRequest,
        observed_at: DateTime<Utc>,
    ) -> Recognized {
        let mut out = Recognized::default();
        let mut batch = JoinBatch::default();
        for resource_logs in &request.resource_logs {
            for scope_logs in &resource_logs.scope_logs {
                for record in &scope_logs.log_records {
                    let Some(report) = error_report(Attrs(&record.attributes), &self.redactor)
                    else {
                        out.ignored += 1;
                        continue;
                    };
                    let no_context = |id: &[u8]| id.iter().all(|b| *b == 0);
                    if no_context(&record.trace_id) || no_context(&record.span_id) {
                        out.ignored += 1;
                        continue;
                    }
                    match log_span(&record.trace_id, &record.span_id) {
                        Ok(at) => batch.errors.push(join::logged(at, report, observed_at)),
                        Err(reason) => out.rejected.push(format!(
                            "log record with span_id {}: {reason}",
                            attributes::preview(&hex::encode(&record.span_id))
                        )),
                    }
                }
            }
        }
        self.finish(batch, out)
    }

    fn recognize_span(&mut self, view: &SpanView<'_>, source: SourceSystem) -> Outcome {
        match source {
            SourceSystem::Tasklens => tasklens::recognize(view, &self.redactor),
            SourceSystem::Celery => celery::recognize(view),
            SourceSystem::Taskiq => taskiq::recognize(view),
            SourceSystem::Bullmq => bullmq::recognize(view),
            SourceSystem::Sidekiq => sidekiq::recognize(view),
            SourceSystem::Messaging => messaging::recognize(view),
        }
    }

    /// Validates a recognizer's outcome and records it, with the join it needs.
    fn settle(
        &mut self,
        view: &SpanView<'_>,
        source: SourceSystem,
        outcome: Outcome,
        observed_at: DateTime<Utc>,
        out: &mut Recognized,
        batch: &mut JoinBatch,
    ) {
        let draft = match outcome {
            Ok(None) => {
                out.ignored += 1;
                return;
            }
            Err(reason) => {
                out.count(source);
                out.rejected.push(format!("{}: {reason}", view.label()));
                return;
            }
            Ok(Some(draft)) => draft,
        };
        out.count(source);
        let Draft { mut run, role, at } = draft;
        redact(&self.redactor, &mut run.error_message);
        redact(&self.redactor, &mut run.error_traceback);
        let event = TaskRunEvent { observed_at, run };
        let event = match event.prepare() {
            Ok(event) => event,
            Err(violation) => {
                out.rejected.push(format!("{}: {violation}", view.label()));
                return;
            }
        };
        let join = match source {
            SourceSystem::Taskiq => taskiq::join(view, role),
            SourceSystem::Celery => celery::join(view, role),
            _ => Join::of(role),
        };
        batch.joined.push(join::joined(event, join, at));
    }
}

/// Which recognizer claims a span (see the module table).
fn classify(view: &SpanView<'_>) -> Option<SourceSystem> {
    let attrs = view.attrs;
    let kind = view.kind();
    if attrs.contains(TASK_NAME) {
        return Some(SourceSystem::Tasklens);
    }
    if attrs.contains("celery.action") {
        return Some(SourceSystem::Celery);
    }
    if attrs.contains("taskiq.action") || attrs.contains("taskiq.task_name") {
        return Some(SourceSystem::Taskiq);
    }
    if attrs.has_prefix("bullmq.") && matches!(kind, SpanKind::Consumer | SpanKind::Producer) {
        return Some(SourceSystem::Bullmq);
    }
    let system = attrs.str("messaging.system")?;
    if system.trim().eq_ignore_ascii_case("sidekiq") {
        return Some(SourceSystem::Sidekiq);
    }
    messaging::claims(attrs, kind).then_some(SourceSystem::Messaging)
}

/// Replaces the secrets in an error text, in place.
fn redact(redactor: &Redactor, text: &mut Option<String>) {
    if let Some(found) = text.as_deref()
        && let Cow::Owned(redacted) = redactor.redact_text(found)
    {
        *text = Some(redacted);
    }
}

/// The exception of a log record, if it has one, its secrets redacted.
fn error_report(attrs: Attrs<'_>, redactor: &Redactor) -> Option<ErrorReport> {
    let field = |key| attrs.str(key).map(str::to_owned);
    let mut report = ErrorReport {
        message: field(EXCEPTION_MESSAGE),
        error_type: field(EXCEPTION_TYPE),
        traceback: field(EXCEPTION_STACKTRACE),
    };
    redact(redactor, &mut report.message);
    redact(redactor, &mut report.traceback);
    let any = report.message.is_some() || report.error_type.is_some() || report.traceback.is_some();
    any.then(|| report.capped())
}

fn log_span(trace_id: &[u8], span_id: &[u8]) -> Result<SpanRef, String> {
    Ok(SpanRef {
        trace_id: fixed_id::<16>("trace_id", trace_id)?,
        span_id: fixed_id::<8>("span_id", span_id)?,
    })
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use tasklens_model::RunKey;
    use tasklens_model::TaskStatus;

    fn celery_run(span_n: u8) -> SpanBuilder {
        celery_run_ending(span_n, "SUCCESS")
    }

    fn celery_run_ending(span_n: u8, state: &str) -> SpanBuilder {
        SpanBuilder::consumer("run/score_message")
            .ids(7, span_n)
            .attr("celery.action", s("run"))
            .attr("celery.task_name", s("score_message"))
            .attr("celery.state", s(state))
            .attr("messaging.message.id", s("task-1"))
    }

    #[test]
    fn spans_that_are_not_task_runs_are_counted_as_ignored() {
        let spans = vec![
            SpanBuilder::new("GET /")
                .attr("http.method", s("GET"))
                .build(),
            SpanBuilder::new("internal bullmq work")
                .attr("bullmq.worker.name", s("w"))
                .build(),
            SpanBuilder::consumer("orders receive")
                .attr("messaging.system", s("kafka"))
                .attr("messaging.operation.type", s("receive"))
                .build(),
            SpanBuilder::new("celery other")
                .attr("celery.action", s("something"))
                .build(),
        ];
        let recognized = recognize_spans(spans);
        assert!(recognized.events.is_empty());
        assert!(recognized.rejected.is_empty());
        assert_eq!(recognized.ignored, 4);
        assert!(recognized.spans_by_source.is_empty());
    }

    #[test]
    fn every_span_is_counted_once() {
        let spans = vec![
            celery_run(1).build(),
            celery_run(2).times(T0, 0).build(),
            SpanBuilder::new("GET /").build(),
        ];
        let recognized = recognize_spans(spans);
        assert_eq!(recognized.events.len(), 1);
        assert_eq!(recognized.rejected.len(), 1);
        assert_eq!(recognized.ignored, 1);
        assert_eq!(
            recognized.spans_by_source,
            BTreeMap::from([(SourceSystem::Celery, 2)])
        );
    }

    #[test]
    fn rejected_spans_carry_a_reason_naming_the_span() {
        let cases = [
            (
                celery_run(0x0a).trace_id(vec![1, 2, 3]).build(),
                "span 0a0a0a0a0a0a0a0a (\"run/score_message\"): trace_id has 3 bytes, expected 16",
            ),
            (
                celery_run(0x0b).times(T0, 0).build(),
                "span 0b0b0b0b0b0b0b0b (\"run/score_message\"): end time is missing (0)",
            ),
            (
                SpanBuilder::consumer("run/x")
                    .ids(1, 0x0c)
                    .attr("celery.action", s("run"))
                    .attr("celery.task_name", s("x"))
                    .build(),
                "span 0c0c0c0c0c0c0c0c (\"run/x\"): no task id: messaging.message.id and messaging.message_id are missing",
            ),
            (
                celery_run(0x0d).attr("celery.retries", s("often")).build(),
                "span 0d0d0d0d0d0d0d0d (\"run/score_message\"): celery.retries is \"often\", expected an integer",
            ),
            (
                celery_run(0x0e).attr("celery.retries", i(-1)).build(),
                "span 0e0e0e0e0e0e0e0e (\"run/score_message\"): run task-1 (attempt -1) of task \"score_message\" breaks rule attempt_not_negative: the attempt number starts at 0",
            ),
        ];
        for (span, reason) in cases {
            let recognized = recognize_spans(vec![span]);
            assert!(recognized.events.is_empty());
            assert_eq!(recognized.rejected, vec![reason.to_owned()]);
        }
    }

    #[test]
    fn a_non_task_span_with_bad_ids_is_only_ignored() {
        let span = SpanBuilder::new("GET /")
            .trace_id(vec![])
            .times(0, 0)
            .build();
        let recognized = recognize_spans(vec![span]);
        assert_eq!(recognized.ignored, 1);
        assert!(recognized.rejected.is_empty());
    }

    #[test]
    fn every_event_gets_the_observation_time() {
        let recognized = recognize_spans(vec![celery_run(1).build()]);
        assert_eq!(single(&recognized).observed_at, observed());
    }

    fn error_fields(event: &TaskRunEvent) -> (TaskStatus, Option<&str>, Option<&str>) {
        (
            event.run.status,
            event.run.error_message.as_deref(),
            event.run.error_type.as_deref(),
        )
    }

    #[test]
    fn a_log_error_joins_a_run_seen_before() {
        let mut recognizer = recognizer();
        let failed = celery_run_ending(3, "FAILURE").build();
        let run = recognizer.traces(&traces(vec![failed]), observed());
        assert_eq!(run.events.len(), 1);

        let recognized = recognizer.logs(&logs(vec![exception_log(7, 3, "not found")]), observed());
        let event = single(&recognized);
        assert_eq!(
            event.run.key(),
            RunKey {
                source: SourceSystem::Celery,
                task_id: "task-1".into(),
                attempt: 0
            }
        );
        assert_eq!(event.run.task_name, "score_message");
        assert_eq!(
            error_fields(event),
            (TaskStatus::Pending, Some("not found"), Some("ValueError"))
        );
        assert_eq!(event.run.started_at, None);
        assert!(event.run.error_traceback.is_some());
    }

    #[test]
    fn a_log_error_waits_for_its_run_span() {
        let mut recognizer = recognizer();
        let early = recognizer.logs(
            &logs(vec![
                exception_log(7, 3, "b: second"),
                exception_log(7, 3, "a: first"),
            ]),
            observed(),
        );
        assert!(early.events.is_empty() && early.rejected.is_empty());
        assert_eq!(early.ignored, 0);

        let failed = || celery_run_ending(3, "FAILURE").build();
        let recognized = recognizer.traces(&traces(vec![failed()]), observed());
        assert_eq!(recognized.events.len(), 2);
        let statuses: Vec<_> = recognized.events.iter().map(error_fields).collect();
        assert!(
            statuses
                .iter()
                .any(|(status, ..)| *status == TaskStatus::Failed)
        );
        // two waiting reports for one span fold like the store would merge them
        assert!(statuses.contains(&(TaskStatus::Pending, Some("b: second"), Some("ValueError"))));

        // emitted once: a later copy of the run span does not emit it again
        let again = recognizer.traces(&traces(vec![failed()]), observed());
        assert_eq!(again.events.len(), 1);
    }

    #[test]
    fn an_exception_logged_in_a_run_that_succeeded_is_not_its_error() {
        // Before the run span and after it: neither joins, and the success is not remembered.
        let mut recognizer = recognizer();
        let early = recognizer.logs(&logs(vec![exception_log(7, 3, "handled")]), observed());
        assert!(early.events.is_empty());
        let run = recognizer.traces(&traces(vec![celery_run(3).build()]), observed());
        assert_eq!(
            run.events.iter().map(error_fields).collect::<Vec<_>>(),
            [(TaskStatus::Success, None, None)]
        );
        let late = recognizer.logs(&logs(vec![exception_log(7, 3, "handled")]), observed());
        assert!(late.events.is_empty());
    }

    #[test]
    fn log_records_that_are_not_error_reports_are_ignored_or_rejected() {
        let plain = LogRecord {
            trace_id: trace(7),
            span_id: sid(3),
            body: Some(s("hello")),
            ..Default::default()
        };
        let no_context = LogRecord {
            trace_id: vec![],
            span_id: vec![],
            ..exception_log(7, 3, "x")
        };
        let zero_context = LogRecord {
            trace_id: vec![0; 16],
            ..exception_log(7, 3, "x")
        };
        let blank_exception = LogRecord {
            attributes: vec![attr("exception.message", s("  "))],
            ..exception_log(7, 3, "x")
        };
        let bad_ids = LogRecord {
            span_id: vec![1, 2, 3],
            ..exception_log(7, 3, "x")
        };
        let recognized = recognizer().logs(
            &logs(vec![
                plain,
                no_context,
                zero_context,
                blank_exception,
                bad_ids,
            ]),
            observed(),
        );
        assert!(recognized.events.is_empty());
        assert_eq!(recognized.ignored, 4);
        assert_eq!(
            recognized.rejected,
            vec!["log record with span_id 010203: span_id has 3 bytes, expected 8".to_owned()]
        );
    }

    #[test]
    fn secrets_in_error_text_are_redacted_on_spans_and_log_records() {
        let mut recognizer = recognizer();
        let message = "login to postgres://app:s3cret@db/x failed: token=abc123";
        let failed = SpanBuilder::consumer("run/sync_orders")
            .ids(7, 4)
            .attr("celery.action", s("run"))
            .attr("celery.task_name", s("sync_orders"))
            .attr("celery.state", s("FAILURE"))
            .attr("messaging.message.id", s("task-4"))
            .error(message)
            .exception(
                "OperationalError",
                message,
                "Traceback ...\npassword=hunter2",
            )
            .build();
        let recognized = recognizer.traces(&traces(vec![failed]), observed());
        let run = &single(&recognized).run;
        assert_eq!(
            run.error_message.as_deref(),
            Some("login to postgres://app:[redacted]@db/x failed: token=[redacted]")
        );
        assert_eq!(
            run.error_traceback.as_deref(),
            Some("Traceback ...\npassword=[redacted]")
        );

        let mut log = exception_log(7, 4, "retry with password=hunter2 later");
        log.attributes[2] = attr(
            "exception.stacktrace",
            s("Traceback ...\nError: Authorization: Bearer eyJhbGci.x.y"),
        );
        let recognized = recognizer.logs(&logs(vec![log]), observed());
        let run = &single(&recognized).run;
        assert_eq!(
            run.error_message.as_deref(),
            Some("retry with password=[redacted] later")
        );
        assert_eq!(
            run.error_traceback.as_deref(),
            Some("Traceback ...\nError: Authorization: Bearer [redacted]")
        );
    }

    #[test]
    fn the_join_caches_are_bounded() {
        let mut recognizer = Recognizer::new(Redactor::default(), 2);
        let runs: Vec<_> = (1..=3)
            .map(|n| celery_run_ending(n, "FAILURE").build())
            .collect();
        recognizer.traces(&traces(runs), observed());
        let memory = recognizer.joins.memory().expect("local joins");
        assert_eq!(memory.runs_len(), 2);
        // the oldest run span (1) was forgotten: its error report now waits
        let recognized = recognizer.logs(
            &logs(vec![exception_log(7, 1, "x"), exception_log(7, 3, "y")]),
            observed(),
        );
        assert_eq!(recognized.events.len(), 1);
        let memory = recognizer.joins.memory().expect("local joins");
        assert_eq!(memory.waiting_len(), 1);
    }
}
