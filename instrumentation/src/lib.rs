//! tasklens instrumentation for Rust workers: one line around a task makes each run visible in
//! tasklens (pending, running, success or failed, with params, queue wait and full errors),
//! over plain OpenTelemetry with the span conventions of [`tasklens_model::conventions`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tasklens_instrumentation::{TaskRun, Tracker};
//!
//! // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME and
//! // OTEL_RESOURCE_ATTRIBUTES apply; the guard flushes when dropped.
//! let guard = Tracker::builder().service_name("workers").install()?;
//! let tracker = guard.tracker().clone();
//!
//! // Producer: record "pending" and carry the headers in the task's message.
//! let params = serde_json::json!({"message_id": 500});
//! let headers = tracker.enqueue("score_message", "task-1", &params);
//!
//! // Worker: running now, then success or failed (errors and panics recorded).
//! let run = TaskRun::new("score_message", "task-1").params(&params)?.attempt(0).headers(&headers);
//! let score = tracker
//!     .run(run, async { Ok::<_, std::io::Error>(0.93) })
//!     .await?;
//! # let _ = score; Ok(()) }
//! ```
//!
//! **Beside `tracing`:** build the tracker from the application's provider with
//! [`Tracker::with_tracer_provider`] (or take [`TrackerGuard::provider`] for the
//! tracing-opentelemetry layer): one pipeline, and `tracing` spans inside a task become
//! children of its run span.
//!
//! **Never hurts the task:** spans are exported by a batch processor on its own thread through
//! a bounded buffer; when the collector is down or slow, spans beyond the buffer are dropped
//! and counted ([`Tracker::dropped_spans`]) and the task goes on at full speed.

#[cfg(feature = "demo")]
pub mod demo;
pub mod export;
pub mod failure;
pub mod setup;
pub mod tracker;

pub use export::{BufferConfig, CountingBatchProcessor, ExportCounters};
pub use failure::FailureReport;
pub use setup::{OtlpProtocol, SetupError, TrackerBuilder, TrackerGuard};
pub use tracker::{ParamsError, RunGuard, TaskRun, Tracker};
