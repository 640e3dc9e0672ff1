//! Celery (`opentelemetry-instrumentation-celery`).
//!
//! - Run span (`celery.action` = `run`, `run/{task}`): task `celery.task_name` (else the span
//!   name after `run/`), task id `messaging.message.id` (older `messaging.message_id`),
//!   attempt `celery.retries` (int or decimal string, absent on the first run). State from
//!   `celery.state`, which the instrumentation sets in `task_postrun`: SUCCESS is success;
//!   FAILURE and RETRY are failed (a RETRY span is an attempt that failed, its retry is the next
//!   attempt); another state is failed on status ERROR or an `exception` event, else success. A
//!   RETRY span has no exception event: its message is `celery.retry.reason` (Celery's `Retry`
//!   text, `Retry in 1s: ConnectionError('...')`), its type the class named in it.
//! - A run span WITHOUT `celery.state` never reached `task_postrun`: the pool terminated its
//!   process (SIGTERM) mid-task, which still ends and exports the span (recorded: a hard time
//!   limit, `revoke(terminate=True)`). It is failed: with `celery.timelimit` = [hard, soft] and
//!   a span as long as the hard limit, as Celery reports it (`TimeLimitExceeded`), else as
//!   terminated. A SIGKILLed process (WorkerLostError) exports nothing at all.
//! - Worker host: `celery.hostname` only when it names a worker. The instrumentation copies the
//!   request's `hostname` and then its `origin` into that one attribute, and every Celery
//!   producer sets `origin` to its anonymous node name `gen<pid>@<host>`, so on a run from a
//!   real worker it is the PRODUCER (a retry keeps the first message's `origin`). Such a name
//!   is skipped and the worker is the run span's own resource `host.name` (the worker's
//!   SDK; the resource detector `host`). Flower's `celery@host` node name is on no span.
//!   Queue from `messaging.destination.name`, `messaging.destination`, or the routing key in
//!   `celery.delivery_info` (a Python dict repr).
//! - Producer span (`celery.action` = `apply_async`): pending, enqueued at the span start, same
//!   task id. Attempt 0, except a retry: Celery re-sends the task from inside the failing run,
//!   so a producer whose parent is a known Celery run of the same task id enqueues that run's
//!   attempt + 1.
//! - Any other `celery.action` is not a run (ignored).

use tasklens_model::{RunKey, SourceSystem, TaskStatus};

use opentelemetry_proto::tonic::common::v1::any_value::Value;

use super::attributes::{Attrs, to_attempt};
use super::join::Join;
use super::span::{Draft, Envelope, Failure, Outcome, Role, SpanView, name_after, pending_state};

const TASK_ID_KEYS: [&str; 2] = ["messaging.message.id", "messaging.message_id"];

pub(crate) fn recognize(view: &SpanView<'_>) -> Outcome {
    match view.attrs.str("celery.action").map(str::trim) {
        Some("run") => run(view),
        Some("apply_async") => producer(view),
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
    let state = attrs.str("celery.state").map(str::trim);
    let status = match state {
        Some("SUCCESS") => TaskStatus::Success,
        Some("FAILURE" | "RETRY") => TaskStatus::Failed,
        Some(_) if !view.reports_error() => TaskStatus::Success,
        _ => TaskStatus::Failed,
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
        worker_node(attrs),
    );
    run.queue = queue(attrs);
    if status == TaskStatus::Failed {
        let failure = match state {
            None if !view.reports_error() => terminated(attrs, &envelope),
            _ => {
                let reason = attrs.str("celery.retry.reason");
                let mut failure = view.failure(reason);
                if failure.error_type.is_none() {
                    failure.error_type = reason.and_then(retry_exception_type).map(str::to_owned);
                }
                failure
            }
        };
        failure.apply(&mut run);
    }
    Ok(Some(Draft {
        run,
        role: Role::Run,
        at: envelope.at,
    }))
}

/// The message of a run whose process was terminated before `task_postrun`.
pub(crate) const TERMINATED_MESSAGE: &str = "the worker process was terminated before the task \
    finished (revoke with terminate=True, a hard time limit or a signal): Celery reported no \
    state";

/// The error type Celery reports for a run that ran into its hard time limit.
pub(crate) const TIME_LIMIT_TYPE: &str = "billiard.exceptions.TimeLimitExceeded";

/// The pool starts the hard time limit when it hands the job to a process, a little before
/// `task_prerun` starts the span: a span this much shorter than the limit still ran into it.
const TIME_LIMIT_SLACK_SECONDS: f64 = 0.1;

/// The failure of a run span without `celery.state` (its process was terminated mid-task).
fn terminated(attrs: Attrs<'_>, envelope: &Envelope) -> Failure {
    let duration = (envelope.end - envelope.start)
        .to_std()
        .map_or(0.0, |d| d.as_secs_f64());
    match hard_time_limit(attrs) {
        Some(limit) if duration + TIME_LIMIT_SLACK_SECONDS >= limit => Failure {
            message: format!(
                "TimeLimitExceeded({limit}): the task ran into its hard time limit ({limit} s) \
                 and the pool terminated its worker process"
            ),
            error_type: Some(TIME_LIMIT_TYPE.to_owned()),
            traceback: None,
        },
        _ => Failure {
            message: TERMINATED_MESSAGE.to_owned(),
            error_type: None,
            traceback: None,
        },
    }
}

/// The hard limit in `celery.timelimit` = [hard, soft] (seconds; `""` when unset; ints when both
/// are set). Anything else: none.
fn hard_time_limit(attrs: Attrs<'_>) -> Option<f64> {
    let Some(Value::ArrayValue(limits)) = attrs.value("celery.timelimit") else {
        return None;
    };
    let seconds = match limits.values.first()?.value.as_ref()? {
        Value::StringValue(text) => text.trim().parse::<f64>().ok()?,
        Value::IntValue(n) => *n as f64,
        Value::DoubleValue(x) => *x,
        _ => return None,
    };
    (seconds.is_finite() && seconds > 0.0).then_some(seconds)
}

/// The exception class in Celery's `Retry` text: `Retry in 1s: ConnectionError('...')` (the
/// `repr` of the `exc` given to `retry()`, or caught by `autoretry_for`). None when the text
/// has another form (a custom message, `Retry at <eta>` without an exception).
fn retry_exception_type(reason: &str) -> Option<&str> {
    let (_, exception) = reason.strip_prefix("Retry ")?.split_once(": ")?;
    let (name, _) = exception.split_once('(')?;
    let identifier = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    (exception.ends_with(')') && !name.is_empty() && identifier).then_some(name)
}

/// `celery.hostname` when it is a worker's node name; `None` for the anonymous node name
/// (`gen<pid>@<host>`, Celery's `anon_nodename()`) that every producer stamps as `origin`.
fn worker_node(attrs: Attrs<'_>) -> Option<&str> {
    attrs
        .str("celery.hostname")
        .map(str::trim)
        .filter(|name| !name.is_empty() && !is_anonymous_node(name))
}

fn is_anonymous_node(name: &str) -> bool {
    name.strip_prefix("gen")
        .and_then(|rest| rest.split_once('@'))
        .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// A producer: attempt 0, or the next attempt of its parent run span when that is a Celery
/// run of the same task id (a retry; the store decides, `tasklens_store::joins`).
fn producer(view: &SpanView<'_>) -> Outcome {
    let envelope = view.envelope()?;
    let attrs = view.attrs;
    let key = RunKey {
        source: SourceSystem::Celery,
        task_id: task_id(attrs)?,
        attempt: 0,
    };
    let mut run = pending_state(&envelope, key, task_name(view, "apply_async/"));
    run.queue = queue(attrs);
    Ok(Some(Draft {
        run,
        role: Role::Producer,
        at: envelope.at,
    }))
}

/// The join a recognized Celery span needs: a producer with a parent may be a retry of it.
pub(crate) fn join(view: &SpanView<'_>, role: Role) -> Join {
    match (role, view.envelope().ok().and_then(|e| e.parent)) {
        (Role::Producer, Some(parent)) => Join::RetryOf { parent },
        (Role::Producer, None) => Join::None,
        (Role::Run, _) => Join::Run,
    }
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
#[path = "celery_tests.rs"]
mod tests;
