//! The span conventions of tasklens's own instrumentation: the one place both the
//! instrumentation crate (which writes them) and the collector (which reads them) take them
//! from. `docs/conventions.md` describes them for anyone instrumenting another language by hand.
//!
//! A run is told by spans that carry [`TASK_NAME`]:
//! - the enqueue span (kind PRODUCER, name `enqueue {task}`): the run is pending;
//! - the start signal (kind INTERNAL, name `start {task}`, [`TASK_STATE`] = `running`), a span
//!   that ends the moment the task starts, so "running" is exported at once instead of when the
//!   task ends;
//! - the run span (kind CONSUMER, name `run {task}`): ends with the task; status ERROR or an
//!   `exception` event means failed, otherwise success. [`TASK_STATE`] may say it explicitly.

/// The task type, e.g. `score_message`. Its presence marks a tasklens span.
pub const TASK_NAME: &str = "tasklens.task.name";
/// The task system's id of the run (shared by all attempts).
pub const TASK_ID: &str = "tasklens.task.id";
/// Attempt number, from 0.
pub const TASK_ATTEMPT: &str = "tasklens.task.attempt";
/// The task's parameters as a JSON string (already redacted and size-capped by the sender).
pub const TASK_PARAMS: &str = "tasklens.task.params";
/// Queue the task went through.
pub const TASK_QUEUE: &str = "tasklens.task.queue";
/// Explicit state: `pending`, `running`, `success` or `failed`.
pub const TASK_STATE: &str = "tasklens.task.state";
/// The task system whose run the span reports, when it is not one of tasklens's own: one of the
/// collector's source names (`celery`, `taskiq`, ...). A start signal added to a Celery or
/// TaskIQ worker says `celery` or `taskiq`, so it lands on the row of that library's own spans
/// (same source, task id and attempt) instead of a row of its own. Absent: `tasklens`.
pub const TASK_SOURCE: &str = "tasklens.task.source";
/// When the task was enqueued, in Unix nanoseconds (from the message headers), on start and run
/// spans: it gives the queue wait.
pub const TASK_ENQUEUED_AT: &str = "tasklens.task.enqueued_at_unix_nano";
/// The error's source chain, one cause per line, on a failed run span.
pub const ERROR_CHAIN: &str = "tasklens.error.chain";

/// Message header (W3C trace context travels as `traceparent`/`tracestate` beside it) carrying
/// the enqueue time in Unix nanoseconds.
pub const HEADER_ENQUEUED_AT: &str = "tasklens-enqueued-at";

/// Span name prefixes.
pub const ENQUEUE_SPAN_PREFIX: &str = "enqueue ";
pub const START_SPAN_PREFIX: &str = "start ";
pub const RUN_SPAN_PREFIX: &str = "run ";

/// Standard OpenTelemetry exception event and attributes.
pub const EXCEPTION_EVENT: &str = "exception";
pub const EXCEPTION_TYPE: &str = "exception.type";
pub const EXCEPTION_MESSAGE: &str = "exception.message";
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

/// Parameter keys that look secret, redacted by default (matched case-insensitively as
/// substrings of the key).
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "cookie",
    "session",
];
/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";
