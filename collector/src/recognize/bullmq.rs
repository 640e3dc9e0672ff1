//! BullMQ (its built-in telemetry, e.g. with `bullmq-otel`).
//!
//! - Run span (CONSUMER, `process {queue}`): task `bullmq.job.name`; task id
//!   `{queue}:{bullmq.job.id}` when a queue is known (job ids are only unique within a queue:
//!   `bullmq.queue.name`, else `messaging.destination.name`, else the span name after
//!   `process `), else the job id alone; attempt `bullmq.job.attempts.made` (set when the job
//!   starts: the attempts made before this one). Failed when the span has an event
//!   `job failed` (message `bullmq.job.failed.reason`, BullMQ reports no ERROR status and no
//!   stack) or status ERROR; else success.
//! - Producer span (PRODUCER, `add {queue}.{job}`) with a job id: pending, attempt 0 (retries
//!   reuse the job and are not re-added). Without a job id (bulk adds, flows) it is ignored.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use super::attributes::{Attrs, to_attempt};
use super::span::{Draft, Outcome, Role, SpanView, name_after, pending_state};

const JOB_ID: &str = "bullmq.job.id";
const ATTEMPTS_MADE: &str = "bullmq.job.attempts.made";
const FAILED_EVENT: &str = "job failed";
const FAILED_REASON: &str = "bullmq.job.failed.reason";

pub(crate) fn recognize(view: &SpanView<'_>) -> Outcome {
    match view.kind() {
        SpanKind::Consumer => run(view),
        SpanKind::Producer if view.attrs.id(JOB_ID).is_some() => producer(view),
        _ => Ok(None),
    }
}

fn queue<'a>(view: &SpanView<'a>, from_name: bool) -> Option<&'a str> {
    view.attrs
        .first_str(&["bullmq.queue.name", "messaging.destination.name"])
        .or_else(|| {
            from_name
                .then(|| name_after(&view.span.name, "process "))
                .flatten()
        })
}

fn task_id(job_id: String, queue: Option<&str>) -> String {
    match queue {
        Some(queue) => format!("{queue}:{job_id}"),
        None => job_id,
    }
}

fn job_name(attrs: Attrs<'_>) -> String {
    attrs.str("bullmq.job.name").unwrap_or_default().to_owned()
}

fn run(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let job_id = attrs.required_id(JOB_ID)?;
    let queue = queue(view, true);
    let attempt = match attrs.int(ATTEMPTS_MADE)? {
        Some(n) => to_attempt(ATTEMPTS_MADE, n)?,
        None => 0,
    };
    let failed_event = view.event(FAILED_EVENT);
    let status = if failed_event.is_some() || view.status_is_error() {
        TaskStatus::Failed
    } else {
        TaskStatus::Success
    };
    let key = RunKey {
        source: SourceSystem::Bullmq,
        task_id: task_id(job_id, queue),
        attempt,
    };
    let mut run = view.run_state(&envelope, key, job_name(attrs), status, None);
    run.queue = queue.map(str::to_owned);
    if status == TaskStatus::Failed {
        let reason = failed_event
            .and_then(|e| Attrs(&e.attributes).str(FAILED_REASON))
            .or_else(|| attrs.str(FAILED_REASON));
        view.failure(reason).apply(&mut run);
    }
    Ok(Some(Draft {
        run,
        role: Role::Run,
        at: envelope.at,
    }))
}

fn producer(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let job_id = attrs.required_id(JOB_ID)?;
    let queue = queue(view, false);
    let key = RunKey {
        source: SourceSystem::Bullmq,
        task_id: task_id(job_id, queue),
        attempt: 0,
    };
    let mut run = pending_state(&envelope, key, job_name(attrs));
    run.queue = queue.map(str::to_owned);
    Ok(Some(Draft {
        run,
        role: Role::Producer,
        at: envelope.at,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn process() -> SpanBuilder {
        SpanBuilder::consumer("process emails")
            .attr("bullmq.queue.name", s("emails"))
            .attr("bullmq.queue.operation", s("process"))
            .attr("bullmq.worker.name", s("w1"))
            .attr(JOB_ID, s("42"))
            .attr("bullmq.job.name", s("send-welcome"))
    }

    #[test]
    fn runs_table() {
        // (span, task id, attempt, status, message)
        let cases = [
            (process(), "emails:42", 0, TaskStatus::Success, None),
            (
                process()
                    .attr(ATTEMPTS_MADE, d(2.0))
                    .event("job failed", vec![attr(FAILED_REASON, s("smtp down"))]),
                "emails:42",
                2,
                TaskStatus::Failed,
                Some("smtp down"),
            ),
            (
                process().error("status only"),
                "emails:42",
                0,
                TaskStatus::Failed,
                Some("status only"),
            ),
            (
                process().event("job failed", vec![]),
                "emails:42",
                0,
                TaskStatus::Failed,
                Some("task failed (no error message was reported)"),
            ),
            (
                // an exception event alone is not a job failure in BullMQ (lock renewals...)
                process()
                    .attr(ATTEMPTS_MADE, i(1))
                    .exception("Error", "could not renew lock", ""),
                "emails:42",
                1,
                TaskStatus::Success,
                None,
            ),
            (
                SpanBuilder::consumer("process reports")
                    .attr(JOB_ID, i(7))
                    .attr("bullmq.job.name", s("daily")),
                "reports:7",
                0,
                TaskStatus::Success,
                None,
            ),
            (
                SpanBuilder::consumer("consume")
                    .attr(JOB_ID, s("7"))
                    .attr("bullmq.job.name", s("daily")),
                "7",
                0,
                TaskStatus::Success,
                None,
            ),
        ];
        for (builder, task_id, attempt, status, message) in cases {
            let recognized = recognize_spans(vec![builder.clone().build()]);
            let run = &single(&recognized).run;
            assert_eq!(run.task_id, task_id, "{builder:?}");
            assert_eq!(run.attempt, attempt, "{builder:?}");
            assert_eq!(run.status, status, "{builder:?}");
            assert_eq!(run.error_message.as_deref(), message, "{builder:?}");
        }
    }

    #[test]
    fn the_producer_and_the_run_share_a_key() {
        let recognized = recognize_spans(vec![
            SpanBuilder::producer("add emails.send-welcome")
                .ids(1, 1)
                .attr("bullmq.queue.name", s("emails"))
                .attr("bullmq.job.name", s("send-welcome"))
                .attr(JOB_ID, s("42"))
                .build(),
            process().ids(2, 2).build(),
        ]);
        let keys: Vec<_> = recognized.events.iter().map(|e| e.run.key()).collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], keys[1]);
        let statuses: Vec<_> = recognized.events.iter().map(|e| e.run.status).collect();
        assert_eq!(statuses, vec![TaskStatus::Success, TaskStatus::Pending]);
    }

    #[test]
    fn spans_that_are_not_job_runs() {
        let recognized = recognize_spans(vec![
            SpanBuilder::producer("addBulk emails")
                .attr("bullmq.job.bulk.count", i(3))
                .build(),
            SpanBuilder::consumer("process emails")
                .attr("bullmq.queue.name", s("emails"))
                .build(),
        ]);
        assert_eq!(recognized.ignored, 1);
        assert_eq!(
            recognized.rejected,
            vec![format!(
                "span {} (\"process emails\"): bullmq.job.id is missing",
                sid_hex(2)
            )]
        );
    }
}
