//! Sidekiq (Ruby `opentelemetry-instrumentation-sidekiq`).
//!
//! - Run span (CONSUMER, `{queue} process`): task `messaging.sidekiq.job_class`, task id the
//!   jid in `messaging.message_id` (or `messaging.message.id`), queue
//!   `messaging.destination.name` / `messaging.destination`. By default the run span starts a
//!   NEW trace with a link to the producer: the shared jid joins them, nothing else is needed.
//!   `enqueued_at` comes from the span's `enqueued_at` event (the instrumentation stamps it
//!   with the job's enqueue time). Failed on status ERROR or an `exception` event.
//! - Attempt: Sidekiq's `retry_count` if an attribute carries it
//!   (`messaging.sidekiq.retry_count`, `messaging.sidekiq.job.retry_count`). The contrib
//!   instrumentation does not record it; Sidekiq's own field is absent on the first run and 0
//!   on the first retry, so attempt = retry_count + 1 when present, else 0. Without it, the
//!   retries of a job fold into one run.
//! - Producer span (PRODUCER, `{queue} publish`): pending, attempt 0.
//! - Other kinds (the instrumentation's internal spans) are not runs (ignored).

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use super::attributes::{Attrs, to_attempt};
use super::span::{Draft, Outcome, Role, SpanView, pending_state, unix_nanos};

const TASK_ID_KEYS: [&str; 2] = ["messaging.message_id", "messaging.message.id"];
const RETRY_COUNT_KEYS: [&str; 2] = [
    "messaging.sidekiq.retry_count",
    "messaging.sidekiq.job.retry_count",
];

pub(crate) fn recognize(view: &SpanView<'_>) -> Outcome {
    let role = match view.kind() {
        SpanKind::Consumer => Role::Run,
        SpanKind::Producer => Role::Producer,
        _ => return Ok(None),
    };
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let task_id = attrs.first_id(&TASK_ID_KEYS).ok_or_else(|| {
        format!(
            "no jid: {} and {} are missing",
            TASK_ID_KEYS[0], TASK_ID_KEYS[1]
        )
    })?;
    let task_name = attrs
        .str("messaging.sidekiq.job_class")
        .unwrap_or_default()
        .to_owned();
    let attempt = match (role, attrs.first_int(&RETRY_COUNT_KEYS)?) {
        (Role::Run, Some(retry_count)) => {
            to_attempt(RETRY_COUNT_KEYS[0], retry_count.saturating_add(1))?
        }
        _ => 0,
    };
    let key = RunKey {
        source: SourceSystem::Sidekiq,
        task_id,
        attempt,
    };
    let mut run = match role {
        Role::Producer => pending_state(&envelope, key, task_name),
        Role::Run => {
            let status = if view.reports_error() {
                TaskStatus::Failed
            } else {
                TaskStatus::Success
            };
            let mut run = view.run_state(&envelope, key, task_name, status, None);
            run.enqueued_at = view
                .event("enqueued_at")
                .and_then(|e| unix_nanos(e.time_unix_nano));
            if status == TaskStatus::Failed {
                view.failure(None).apply(&mut run);
            }
            run
        }
    };
    run.queue = queue(attrs);
    Ok(Some(Draft {
        run,
        role,
        at: envelope.at,
    }))
}

fn queue(attrs: Attrs<'_>) -> Option<String> {
    attrs
        .first_str(&["messaging.destination.name", "messaging.destination"])
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const JID: &str = "b4a577edbccf1d805744efa9";

    fn sidekiq(builder: SpanBuilder) -> SpanBuilder {
        builder
            .attr("messaging.system", s("sidekiq"))
            .attr("messaging.sidekiq.job_class", s("HardWorker"))
            .attr("messaging.message_id", s(JID))
            .attr("messaging.destination", s("default"))
            .attr("messaging.destination_kind", s("queue"))
    }

    fn process() -> SpanBuilder {
        sidekiq(SpanBuilder::consumer("default process"))
            .attr("messaging.operation", s("process"))
            .timed_event("created_at", T0 - 5 * MS)
            .timed_event("enqueued_at", T0 - 4 * MS)
    }

    #[test]
    fn runs_table() {
        // (span, status, attempt, message)
        let cases = [
            (process(), TaskStatus::Success, 0, None),
            (
                process()
                    .exception("RuntimeError", "boom", "app/workers/hard_worker.rb:5")
                    .error("Unhandled exception of type: RuntimeError"),
                TaskStatus::Failed,
                0,
                Some("boom"),
            ),
            (
                process().error("Unhandled exception of type: RuntimeError"),
                TaskStatus::Failed,
                0,
                Some("Unhandled exception of type: RuntimeError"),
            ),
            (
                process().attr("messaging.sidekiq.retry_count", i(0)),
                TaskStatus::Success,
                1,
                None,
            ),
            (
                process().attr("messaging.sidekiq.job.retry_count", s("4")),
                TaskStatus::Success,
                5,
                None,
            ),
        ];
        for (builder, status, attempt, message) in cases {
            let recognized = recognize_spans(vec![builder.clone().build()]);
            let run = &single(&recognized).run;
            assert_eq!(run.status, status, "{builder:?}");
            assert_eq!(run.attempt, attempt, "{builder:?}");
            assert_eq!(run.error_message.as_deref(), message, "{builder:?}");
            assert_eq!(run.task_name, "HardWorker");
            assert_eq!(run.queue.as_deref(), Some("default"));
            assert_eq!(run.enqueued_at, Some(at(T0 - 4 * MS)));
        }
    }

    #[test]
    fn a_run_in_a_new_trace_joins_its_producer_by_jid() {
        let recognized = recognize_spans(vec![
            sidekiq(SpanBuilder::producer("default publish"))
                .ids(1, 1)
                .timed_event("created_at", T0)
                .build(),
            process().ids(2, 2).link(1, 1).build(),
        ]);
        let keys: Vec<_> = recognized.events.iter().map(|e| e.run.key()).collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[0].task_id, JID);
        let producer = &recognized.events[1].run;
        assert_eq!(producer.status, TaskStatus::Pending);
        assert_eq!(producer.trace_id, None);
    }

    #[test]
    fn other_spans() {
        let recognized = recognize_spans(vec![
            SpanBuilder::new("Sidekiq::Scheduled::Poller#enqueue")
                .attr("messaging.system", s("sidekiq"))
                .build(),
            SpanBuilder::consumer("default process")
                .attr("messaging.system", s("Sidekiq"))
                .attr("messaging.sidekiq.job_class", s("HardWorker"))
                .build(),
        ]);
        assert_eq!(recognized.ignored, 1);
        assert_eq!(
            recognized.rejected,
            vec![format!(
                "span {} (\"default process\"): no jid: messaging.message_id and messaging.message.id are missing",
                sid_hex(2)
            )]
        );
    }
}
