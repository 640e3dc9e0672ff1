//! BullMQ (its built-in telemetry, `telemetry: new BullMQOtel(...)` from `bullmq-otel`).
//!
//! The rules follow what BullMQ 6.7.0's own code does (`Worker.processJob`, `handleCompleted`,
//! `handleFailed`, `Job.moveToCompleted`/`moveToFailed`, `Queue.add`, `FlowProducer.addNode`) and
//! what its recorded spans show (`collector/tests/fixtures/bullmq/`, README there):
//!
//! - Identity: task id `{queue}:{bullmq.job.id}` (job ids are only unique within a queue; every
//!   BullMQ span carries `bullmq.queue.name`; without it `messaging.destination.name`, then the
//!   span name after `process `, else the job id alone). Producer and worker spans carry both, so
//!   each side finds the key on its own, in any order.
//! - Producer span (PRODUCER, `add {queue}.{job}` from `Queue.add`, `addNode {queue}` for each job
//!   of a `FlowProducer` flow) with a job id: pending, attempt 0, enqueued at the span start. A
//!   delayed job stays this pending row until a worker runs it (the span does not say the delay).
//!   Producer spans without a job id (`addBulk`, `addFlow`, `addBulkFlows`, `retryJobs`) are not
//!   one job: ignored.
//! - Run span (CONSUMER, `process {queue}`, one per attempt). Attempt: `bullmq.job.attempts.made`
//!   minus one. BullMQ sets it only after the job was moved to completed or failed, and both moves
//!   have already incremented `attemptsMade`, so it counts the attempt that just ended (the first
//!   attempt's span says 1); 0 is read as the first attempt. Success when the span has the event
//!   `job completed`; failed with the event `job failed` (message `bullmq.job.failed.reason`, the
//!   job's `err.message`: BullMQ reports no type, no stack, no ERROR status) or, from other senders,
//!   status ERROR. A failed attempt that BullMQ retries (`attempts: n`) is that attempt's failed
//!   row; the retry is a new process span whose count is one higher (the next row). `exception`
//!   events on a process span are BullMQ's own errors while moving the job (`retryIfFailed`), never
//!   the job's: they neither fail a run nor give its message.
//! - A run span with neither event nor `bullmq.job.attempts.made` (and no ERROR) is an attempt
//!   BullMQ did not settle: the worker was closing, the job was rate-limited or moved by its
//!   processor (`DelayedError`, `WaitingChildrenError`...), or moving it failed (lost lock).
//!   `attemptsMade` is unchanged then and BullMQ runs the job again (stalled-job check, or the
//!   move the processor asked for), whose span reports the same attempt: ignored.
//! - Flows: each job of a flow is its own run (its `addNode` span, then its process span). A parent
//!   job waits in BullMQ's `waiting-children` state until its children completed; its row stays
//!   pending until then, because its process span only starts after theirs. The spans link a
//!   parent to its children only through the trace tree (a child's `addNode` span is a child of
//!   its parent's), which a run does not record.
//! - Not seen by the recognizer: BullMQ's INTERNAL spans (`retry`/`delay`/`fail`/`complete`,
//!   `getNextJob`, `moveStalledJobsToWait`...), so a retried attempt has no pending row before it
//!   runs, and a job failed by BullMQ without running it (e.g. a flow parent whose child failed
//!   with `failParentOnFailure`) keeps its pending row.

use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use super::attributes::{Attrs, to_attempt};
use super::span::{
    Draft, Failure, NO_ERROR_MESSAGE, Outcome, Role, SpanView, name_after, pending_state,
};

const JOB_ID: &str = "bullmq.job.id";
const ATTEMPTS_MADE: &str = "bullmq.job.attempts.made";
const COMPLETED_EVENT: &str = "job completed";
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

/// The attempt a settled process span reports: `attemptsMade` after the move, minus this one.
fn attempt(attrs: Attrs<'_>) -> Result<Option<i32>, String> {
    match attrs.int(ATTEMPTS_MADE)? {
        None => Ok(None),
        Some(made) if made < 0 => Err(format!("{ATTEMPTS_MADE} is {made}, expected 0 or more")),
        // The range check first: a reason then quotes the value as sent.
        Some(made) => to_attempt(ATTEMPTS_MADE, made).map(|made| Some((made - 1).max(0))),
    }
}

fn run(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let job_id = attrs.required_id(JOB_ID)?;
    let attempt = attempt(attrs)?;
    let failed_event = view.event(FAILED_EVENT);
    let failed = failed_event.is_some() || view.status_is_error();
    let settled = failed || attempt.is_some() || view.event(COMPLETED_EVENT).is_some();
    if !settled {
        return Ok(None);
    }
    let status = if failed {
        TaskStatus::Failed
    } else {
        TaskStatus::Success
    };
    let queue = queue(view, true);
    let key = RunKey {
        source: SourceSystem::Bullmq,
        task_id: task_id(job_id, queue),
        // Only an event or an ERROR status without the count (not what BullMQ 6.7.0 sends).
        attempt: attempt.unwrap_or(0),
    };
    let mut run = view.run_state(&envelope, key, job_name(attrs), status, None);
    run.queue = queue.map(str::to_owned);
    if failed {
        failure(view, failed_event).apply(&mut run);
    }
    Ok(Some(Draft {
        run,
        role: Role::Run,
        at: envelope.at,
    }))
}

/// The job's error: the `job failed` reason (else the ERROR status message); without that event,
/// the common rule for a span with status ERROR.
fn failure(view: &SpanView<'_>, failed_event: Option<&Event>) -> Failure {
    let Some(event) = failed_event else {
        return view.failure(None);
    };
    let status_message = view
        .span
        .status
        .as_ref()
        .filter(|_| view.status_is_error())
        .map(|s| s.message.as_str());
    let message = Attrs(&event.attributes)
        .str(FAILED_REASON)
        .or_else(|| view.attrs.str(FAILED_REASON))
        .or(status_message.filter(|m| !m.trim().is_empty()))
        .unwrap_or(NO_ERROR_MESSAGE);
    Failure {
        message: message.to_owned(),
        error_type: None,
        traceback: None,
    }
}

fn producer(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let job_id = attrs.required_id(JOB_ID)?;
    let queue = queue(view, false);
    let key = RunKey {
        source: SourceSystem::Bullmq,
        task_id: task_id(job_id, queue),
        // The first attempt; a retry reuses the job without a new producer span.
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
#[path = "bullmq_tests.rs"]
mod tests;
