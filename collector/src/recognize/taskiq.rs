//! TaskIQ (`taskiq.middlewares.opentelemetry_middleware`).
//!
//! - Producer span (`taskiq.action` = `send`, `send/{task}`, PRODUCER): the task id is
//!   `messaging.message.id`; the attempt is the `_retries` label (`taskiq._retries`, absent
//!   before the first retry). Pending, enqueued at the span start.
//! - Run span (`taskiq.action` = `execute`, `execute/{task}`, CONSUMER): finished; task
//!   `taskiq.task_name` (else the span name after `execute/`). It carries NO task id: the id
//!   and attempt are those of its parent producer span, recorded by the store (from any
//!   request, on any replica: the join). When the parent was not seen, the run is filed under a
//!   documented fallback key: task id = the parent span id in hex (the span's own id if it has
//!   no parent), attempt = the run span's own retry label. The fallback is recorded, so when that
//!   producer span arrives later its pending report goes under the same fallback key, and a
//!   copy of the run span delivered again keeps it too: the reports of one run always merge.
//! - A run span stamped with `tasklens.task.id` (and `tasklens.task.attempt`, default 0) by the
//!   tasklens start middleware (`docs/conventions.md`) is filed under that id and attempt, with
//!   neither the join nor a fallback: they are exactly those of the start signal the middleware
//!   sent from the same worker, so the running and the finished report land on one row
//!   whether or not the producer span was seen.
//! - The retry label on a run span is read after TaskIQ's retry middleware has handled a
//!   failure, and that middleware increments it in place when it kicks the retry: a run span
//!   with `taskiq.retry.reason` has a label one above its own attempt (recorded fixtures: the
//!   first attempt's span says `_retries` = 1). The fallback attempt corrects for it; with a
//!   known producer the producer's label is used, which is exact.
//! - Failure: status ERROR or an `exception` event; with `retry_on_error` the middleware leaves
//!   the status UNSET and only sets `taskiq.retry.reason`, which then is the failure and its
//!   message.
//! - A span with neither action is classified by kind (CONSUMER run, PRODUCER send); another
//!   action is not a run (ignored).

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tasklens_model::conventions::{TASK_ATTEMPT, TASK_ID};
use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use super::attributes::{Attrs, to_attempt};
use super::join::Join;
use super::span::{Draft, Envelope, Outcome, Role, SpanView, name_after, pending_state};

/// Where the retry count label appears (the middleware copies labels as `taskiq.{label}`;
/// other exporters nest them under `labels`).
const RETRY_KEYS: [&str; 3] = [
    "taskiq._retries",
    "taskiq.labels._retries",
    "taskiq.retries",
];
const RETRY_REASON: &str = "taskiq.retry.reason";
const TASK_ID_KEYS: [&str; 2] = ["messaging.message.id", "messaging.message_id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Execute,
    Send,
}

fn action(view: &SpanView<'_>) -> Option<Action> {
    match view.attrs.value("taskiq.action") {
        Some(_) => match view.attrs.str("taskiq.action").map(str::trim) {
            Some("execute") => Some(Action::Execute),
            Some("send") => Some(Action::Send),
            _ => None,
        },
        None => match view.kind() {
            SpanKind::Consumer => Some(Action::Execute),
            SpanKind::Producer => Some(Action::Send),
            _ => None,
        },
    }
}

pub(crate) fn recognize(view: &SpanView<'_>) -> Outcome {
    match action(view) {
        Some(Action::Execute) => run(view),
        Some(Action::Send) => producer(view),
        None => Ok(None),
    }
}

/// The retry label as written (0 when absent).
fn label(attrs: Attrs<'_>) -> Result<i32, String> {
    match attrs.first_int(&RETRY_KEYS)? {
        Some(n) => to_attempt(RETRY_KEYS[0], n),
        None => Ok(0),
    }
}

fn task_name(view: &SpanView<'_>, prefix: &str) -> String {
    view.attrs
        .str("taskiq.task_name")
        .or_else(|| name_after(&view.span.name, prefix))
        .unwrap_or_default()
        .to_owned()
}

fn run(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let retry_reason = attrs.str(RETRY_REASON);
    let own_attempt = match label(attrs)? {
        n if n > 0 && retry_reason.is_some() => n - 1,
        n => n,
    };
    let key = match stamped_key(attrs)? {
        Some(key) => key,
        None => fallback_key(&envelope, own_attempt),
    };
    let status = if view.reports_error() || retry_reason.is_some() {
        TaskStatus::Failed
    } else {
        TaskStatus::Success
    };
    let mut run = view.run_state(&envelope, key, task_name(view, "execute/"), status, None);
    run.queue = attrs.str("messaging.destination.name").map(str::to_owned);
    if status == TaskStatus::Failed {
        view.failure(retry_reason).apply(&mut run);
    }
    Ok(Some(Draft {
        run,
        role: Role::Run,
        at: envelope.at,
    }))
}

/// The join a recognized TaskIQ span needs: a producer records its key for its run spans; an
/// unstamped run span with a parent takes the key recorded for that parent (its fallback
/// recorded there if none is).
pub(crate) fn join(view: &SpanView<'_>, role: Role) -> Join {
    match role {
        Role::Producer => Join::KeyedProducer,
        Role::Run => match view.envelope().ok().and_then(|e| e.parent) {
            Some(parent) if !view.attrs.contains(TASK_ID) => Join::KeyedRun { parent },
            _ => Join::Run,
        },
    }
}

/// The identity the tasklens start middleware stamped on a run span, if it did.
fn stamped_key(attrs: Attrs<'_>) -> Result<Option<RunKey>, String> {
    if !attrs.contains(TASK_ID) {
        return Ok(None);
    }
    let task_id = attrs.required_id(TASK_ID)?;
    let attempt = match attrs.int(TASK_ATTEMPT)? {
        Some(n) => to_attempt(TASK_ATTEMPT, n)?,
        None => 0,
    };
    Ok(Some(RunKey {
        source: SourceSystem::Taskiq,
        task_id,
        attempt,
    }))
}

/// The fallback key of an unstamped run span: the parent span id in hex (the store replaces it
/// by the key recorded for the parent span, its producer's or a fallback recorded first), or
/// without a parent its own span id.
fn fallback_key(envelope: &Envelope, own_attempt: i32) -> RunKey {
    let span = envelope.parent.unwrap_or(envelope.at);
    RunKey {
        source: SourceSystem::Taskiq,
        task_id: hex::encode(span.span_id),
        attempt: own_attempt,
    }
}

/// A producer: its own key, unless a run span recorded a fallback for it first (the store
/// decides, see `join`).
fn producer(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let key = RunKey {
        source: SourceSystem::Taskiq,
        task_id: view.attrs.first_id(&TASK_ID_KEYS).ok_or_else(|| {
            format!(
                "no task id: {} and {} are missing",
                TASK_ID_KEYS[0], TASK_ID_KEYS[1]
            )
        })?,
        attempt: label(view.attrs)?,
    };
    let run = pending_state(&envelope, key, task_name(view, "send/"));
    Ok(Some(Draft {
        run,
        role: Role::Producer,
        at: envelope.at,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Recognized, Recognizer};
    use super::*;

    const TASK: &str = "app.tasks.embeddings:embed_messages_batch";
    const MESSAGE: &str = "32bb6ec191a342e8bc482808c725ac22";

    fn send(span_n: u8) -> SpanBuilder {
        SpanBuilder::producer(&format!("send/{TASK}"))
            .ids(0xbd, span_n)
            .attr("taskiq.action", s("send"))
            .attr("messaging.message.id", s(MESSAGE))
            .attr("taskiq.task_name", s(TASK))
    }

    fn execute(span_n: u8, parent_n: u8) -> SpanBuilder {
        SpanBuilder::consumer(&format!("execute/{TASK}"))
            .ids(0xbd, span_n)
            .parent(parent_n)
            .attr("taskiq.action", s("execute"))
            .attr("taskiq.task_name", s(TASK))
    }

    /// (task id, attempt, status, error message) of every event, sorted.
    fn summary(recognized: &[&Recognized]) -> Vec<(String, i32, TaskStatus, Option<String>)> {
        let mut rows: Vec<_> = recognized
            .iter()
            .flat_map(|r| r.events.iter())
            .map(|e| {
                (
                    e.run.task_id.clone(),
                    e.run.attempt,
                    e.run.status,
                    e.run.error_message.clone(),
                )
            })
            .collect();
        rows.sort();
        rows
    }

    fn row(
        task_id: &str,
        attempt: i32,
        status: TaskStatus,
        message: Option<&str>,
    ) -> (String, i32, TaskStatus, Option<String>) {
        (
            task_id.to_owned(),
            attempt,
            status,
            message.map(str::to_owned),
        )
    }

    #[test]
    fn outcomes_table() {
        let cases = [
            (execute(2, 1), TaskStatus::Success, None),
            (
                execute(2, 1)
                    .error("message -1 not found in the store")
                    .exception(
                        "ValueError",
                        "message -1 not found in the store",
                        "Traceback",
                    ),
                TaskStatus::Failed,
                Some("message -1 not found in the store"),
            ),
            (
                execute(2, 1).error("status only"),
                TaskStatus::Failed,
                Some("status only"),
            ),
            (
                execute(2, 1).attr(RETRY_REASON, s("embedding service unavailable (attempt 0)")),
                TaskStatus::Failed,
                Some("embedding service unavailable (attempt 0)"),
            ),
        ];
        for (builder, status, message) in cases {
            let recognized = recognize_spans(vec![send(1).build(), builder.build()]);
            assert_eq!(
                summary(&[&recognized]),
                vec![
                    row(MESSAGE, 0, TaskStatus::Pending, None),
                    row(MESSAGE, 0, status, message),
                ]
            );
        }
    }

    #[test]
    fn the_producer_found_in_an_earlier_request_gives_the_task_id() {
        let mut recognizer = recognizer();
        let first = recognizer.traces(&traces(vec![send(1).build()]), observed());
        let second = recognizer.traces(&traces(vec![execute(2, 1).build()]), observed());
        assert_eq!(
            summary(&[&first, &second]),
            vec![
                row(MESSAGE, 0, TaskStatus::Pending, None),
                row(MESSAGE, 0, TaskStatus::Success, None),
            ]
        );
        let run = &second.events[0].run;
        assert_eq!(run.task_name, TASK);
        assert_eq!(run.span_id, Some([2; 8]));
    }

    #[test]
    fn a_run_before_its_producer_uses_the_fallback_key_for_both() {
        let mut recognizer = recognizer();
        let run = recognizer.traces(&traces(vec![execute(2, 1).build()]), observed());
        let producer = recognizer.traces(&traces(vec![send(1).build()]), observed());
        let run_again = recognizer.traces(&traces(vec![execute(2, 1).build()]), observed());
        let fallback = sid_hex(1);
        assert_eq!(
            summary(&[&run, &producer, &run_again]),
            vec![
                row(&fallback, 0, TaskStatus::Pending, None),
                row(&fallback, 0, TaskStatus::Success, None),
                row(&fallback, 0, TaskStatus::Success, None),
            ]
        );
        assert_eq!(producer.events[0].run.enqueued_at, Some(at(T0)));
    }

    #[test]
    fn a_run_without_parent_is_filed_under_its_own_span_id() {
        let span = SpanBuilder::consumer("execute/x")
            .ids(3, 9)
            .attr("taskiq.task_name", s("x"))
            .build();
        let recognized = recognize_spans(vec![span]);
        assert_eq!(single(&recognized).run.task_id, sid_hex(9));
    }

    /// The recorded "retry-exhausted" scenario: every attempt fails with retry_on_error.
    fn exhausted() -> Vec<SpanBuilder> {
        vec![
            send(0x7c).attr("taskiq.max_retries", s("2")),
            execute(0x25, 0x7c)
                .attr(RETRY_REASON, s("unavailable (attempt 0)"))
                .attr("taskiq._retries", i(1)),
            send(0x5b)
                .parent(0x25)
                .attr("taskiq._retries", s("1"))
                .attr("taskiq.max_retries", s("2")),
            execute(0x1f, 0x5b)
                .attr(RETRY_REASON, s("unavailable (attempt 1)"))
                .attr("taskiq._retries", i(2)),
        ]
    }

    #[test]
    fn retries_are_attempts_whatever_the_batching() {
        let expected = vec![
            row(MESSAGE, 0, TaskStatus::Pending, None),
            row(
                MESSAGE,
                0,
                TaskStatus::Failed,
                Some("unavailable (attempt 0)"),
            ),
            row(MESSAGE, 1, TaskStatus::Pending, None),
            row(
                MESSAGE,
                1,
                TaskStatus::Failed,
                Some("unavailable (attempt 1)"),
            ),
        ];
        let spans: Vec<_> = exhausted().into_iter().map(SpanBuilder::build).collect();
        assert_eq!(summary(&[&recognize_spans(spans.clone())]), expected);
        // as recorded: the first send alone, then the rest in one request (in span end order)
        let mut recognizer = recognizer();
        let first = recognizer.traces(&traces(spans[..1].to_vec()), observed());
        let rest = recognizer.traces(&traces(spans[1..].to_vec()), observed());
        assert_eq!(summary(&[&first, &rest]), expected);
    }

    #[test]
    fn without_the_producer_the_run_label_is_corrected() {
        // the failing attempt 1: its label was incremented to 2 before the span ended
        let failed = execute(0x1f, 0x5b)
            .attr(RETRY_REASON, s("unavailable (attempt 1)"))
            .attr("taskiq._retries", i(2));
        // a succeeding attempt 1 keeps its label
        let succeeded = execute(0x1e, 0x5a).attr("taskiq.labels._retries", s("1"));
        let recognized = recognize_spans(vec![failed.build(), succeeded.build()]);
        assert_eq!(
            summary(&[&recognized]),
            vec![
                row(&sid_hex(0x5a), 1, TaskStatus::Success, None),
                row(
                    &sid_hex(0x5b),
                    1,
                    TaskStatus::Failed,
                    Some("unavailable (attempt 1)")
                ),
            ]
        );
    }

    #[test]
    fn rejections_and_ignored_spans() {
        let recognized = recognize_spans(vec![
            SpanBuilder::producer("send/x")
                .attr("taskiq.action", s("send"))
                .build(),
            execute(2, 1).attr("taskiq._retries", s("many")).build(),
            SpanBuilder::new("startup")
                .attr("taskiq.action", s("startup"))
                .build(),
            SpanBuilder::new("internal")
                .attr("taskiq.task_name", s("x"))
                .build(),
        ]);
        assert!(recognized.events.is_empty());
        assert_eq!(recognized.ignored, 2);
        assert_eq!(
            recognized.rejected,
            vec![
                format!(
                    "span {} (\"execute/{TASK}\"): taskiq._retries is \"many\", expected an integer",
                    sid_hex(2)
                ),
                format!(
                    "span {} (\"send/x\"): no task id: messaging.message.id and messaging.message_id are missing",
                    sid_hex(2)
                ),
            ]
        );
    }

    #[test]
    fn a_stamped_run_is_filed_under_its_stamp_whatever_was_seen() {
        // the start middleware stamps the run span; its producer was never seen (a producer
        // without instrumentation), then is seen late (another export of the same trace)
        let stamped = || {
            execute(0x1f, 0x5b)
                .attr(TASK_ID, s(MESSAGE))
                .attr(TASK_ATTEMPT, i(1))
                .attr(RETRY_REASON, s("unavailable (attempt 1)"))
                .attr("taskiq._retries", i(2))
        };
        let mut recognizer = recognizer();
        let run = recognizer.traces(&traces(vec![stamped().build()]), observed());
        let producer = recognizer.traces(
            &traces(vec![send(0x5b).attr("taskiq._retries", s("1")).build()]),
            observed(),
        );
        assert_eq!(
            summary(&[&run, &producer]),
            vec![
                row(MESSAGE, 1, TaskStatus::Pending, None),
                row(
                    MESSAGE,
                    1,
                    TaskStatus::Failed,
                    Some("unavailable (attempt 1)")
                ),
            ]
        );
        // a stamp without an attempt is attempt 0; a broken stamp is refused, never guessed
        let first = execute(2, 1).attr(TASK_ID, s(MESSAGE));
        assert_eq!(single(&recognize_spans(vec![first.build()])).run.attempt, 0);
        let broken = recognize_spans(vec![
            execute(2, 1).attr(TASK_ID, s(" ")).build(),
            execute(3, 1)
                .attr(TASK_ID, s(MESSAGE))
                .attr(TASK_ATTEMPT, s("second"))
                .build(),
        ]);
        assert!(broken.events.is_empty());
        assert_eq!(
            broken.rejected,
            vec![
                format!(
                    "span {} (\"execute/{TASK}\"): tasklens.task.id is empty",
                    sid_hex(2)
                ),
                format!(
                    "span {} (\"execute/{TASK}\"): tasklens.task.attempt is \"second\", expected an integer",
                    sid_hex(3)
                ),
            ]
        );
    }

    #[test]
    fn producers_are_forgotten_beyond_the_capacity() {
        let mut recognizer = Recognizer::new(tasklens_model::Redactor::default(), 1);
        recognizer.traces(&traces(vec![send(1).build(), send(3).build()]), observed());
        let recognized = recognizer.traces(&traces(vec![execute(2, 1).build()]), observed());
        assert_eq!(single(&recognized).run.task_id, sid_hex(1));
    }
}
