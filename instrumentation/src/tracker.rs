//! The tracker: the producer side records the pending state and fills the message headers, the
//! worker side wraps the task's future (or holds a [`RunGuard`]) and reports running, then
//! success or failed.

use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::FutureExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    FutureExt as _, Link, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde::Serialize;
use serde_json::Value;
use tasklens_model::Redactor;
use tasklens_model::conventions::{
    ENQUEUE_SPAN_PREFIX, ERROR_CHAIN, EXCEPTION_EVENT, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE, HEADER_ENQUEUED_AT, RUN_SPAN_PREFIX, START_SPAN_PREFIX, TASK_ATTEMPT,
    TASK_ENQUEUED_AT, TASK_ID, TASK_NAME, TASK_PARAMS, TASK_QUEUE, TASK_STATE,
};
use tasklens_model::limits::{MAX_NAME_BYTES, MAX_TEXT_BYTES, cap_params, cap_text};

use crate::export::ExportCounters;
use crate::failure::FailureReport;

/// The instrumentation scope of every span the tracker writes.
pub const INSTRUMENTATION_NAME: &str = "tasklens-instrumentation";

/// Params that could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
#[error("the task's params cannot be serialized as JSON")]
pub struct ParamsError(#[from] serde_json::Error);

/// Writes the spans of task runs. Cheap to clone; share one per process.
#[derive(Clone, Debug)]
pub struct Tracker {
    inner: Arc<TrackerInner>,
}

#[derive(Debug)]
struct TrackerInner {
    tracer: SdkTracer,
    redactor: Redactor,
    counters: Option<Arc<ExportCounters>>,
}

/// One run of a task, as the worker (or the producer) describes it.
#[derive(Debug, Clone)]
pub struct TaskRun {
    // Shared strings, capped once: every span of the run carries them.
    task_name: StringValue,
    task_id: StringValue,
    attempt: u32,
    params: Option<Value>,
    queue: Option<StringValue>,
    /// The enqueue span's context, from the message headers.
    remote_parent: Option<Context>,
    enqueued_at_unix_nano: Option<i64>,
}

impl TaskRun {
    pub fn new(task_name: impl Into<String>, task_id: impl Into<String>) -> Self {
        TaskRun {
            task_name: capped_name(task_name.into()),
            task_id: capped_name(task_id.into()),
            attempt: 0,
            params: None,
            queue: None,
            remote_parent: None,
            enqueued_at_unix_nano: None,
        }
    }

    /// The task's parameters; secret-looking keys are redacted and the size capped before they
    /// leave the process.
    pub fn params<P: Serialize + ?Sized>(mut self, params: &P) -> Result<Self, ParamsError> {
        self.params = Some(serde_json::to_value(params)?);
        Ok(self)
    }

    /// Like [`TaskRun::params`], but params that cannot be serialized are replaced by a note
    /// saying why, instead of failing the caller.
    pub fn params_lossy<P: Serialize + ?Sized>(mut self, params: &P) -> Self {
        self.params = Some(serde_json::to_value(params).unwrap_or_else(
            |error| serde_json::json!({ "_tasklens_unserializable": error.to_string() }),
        ));
        self
    }

    /// Attempt number from 0: a retry is a separate run of the same task id.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(capped_name(queue.into()));
        self
    }

    /// The headers of the task's message, as [`Tracker::enqueue`] filled them: the run joins its
    /// enqueue (W3C trace context) and its queue wait is known (`tasklens-enqueued-at`).
    /// Missing or malformed headers are ignored.
    pub fn headers(mut self, headers: &HashMap<String, String>) -> Self {
        let parent = TraceContextPropagator::new().extract(headers);
        if parent.span().span_context().is_valid() {
            self.remote_parent = Some(parent);
        }
        self.enqueued_at_unix_nano = headers
            .get(HEADER_ENQUEUED_AT)
            .and_then(|value| value.trim().parse::<i64>().ok())
            .filter(|nanos| *nanos > 0);
        self
    }

    pub fn task_name(&self) -> &str {
        self.task_name.as_str()
    }

    pub fn task_id(&self) -> &str {
        self.task_id.as_str()
    }

    /// The attributes every span of the run carries.
    fn identity(&self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(8);
        attributes.push(KeyValue::new(TASK_NAME, self.task_name.clone()));
        attributes.push(KeyValue::new(TASK_ID, self.task_id.clone()));
        attributes.push(KeyValue::new(TASK_ATTEMPT, i64::from(self.attempt)));
        if let Some(queue) = &self.queue {
            attributes.push(KeyValue::new(TASK_QUEUE, queue.clone()));
        }
        attributes
    }
}

fn capped_name(text: String) -> StringValue {
    StringValue::from(Arc::<str>::from(cap_text(text, MAX_NAME_BYTES)))
}

/// Nanoseconds since the Unix epoch, as OTLP counts them.
fn unix_nanos(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

impl Tracker {
    /// A tracker writing through an application's existing provider (one pipeline with the
    /// rest of its telemetry, `tracing` included through tracing-opentelemetry). Dropped spans
    /// are counted only when the provider exports through a
    /// [`crate::export::CountingBatchProcessor`]: pass its counters with
    /// [`Tracker::with_export_counters`].
    pub fn with_tracer_provider(provider: &SdkTracerProvider) -> Self {
        Tracker {
            inner: Arc::new(TrackerInner {
                tracer: provider.tracer(INSTRUMENTATION_NAME),
                redactor: Redactor::default(),
                counters: None,
            }),
        }
    }

    /// Which parameter keys are redacted (case-insensitive substrings); the default is
    /// [`tasklens_model::conventions::DEFAULT_SECRET_KEYS`].
    pub fn with_redactor(self, redactor: Redactor) -> Self {
        self.rebuild(|inner| inner.redactor = redactor)
    }

    pub fn with_export_counters(self, counters: Arc<ExportCounters>) -> Self {
        self.rebuild(|inner| inner.counters = Some(counters))
    }

    fn rebuild(self, change: impl FnOnce(&mut TrackerInner)) -> Self {
        let mut inner = TrackerInner {
            tracer: self.inner.tracer.clone(),
            redactor: self.inner.redactor.clone(),
            counters: self.inner.counters.clone(),
        };
        change(&mut inner);
        Tracker {
            inner: Arc::new(inner),
        }
    }

    /// Spans lost so far: turned away by a full buffer or in failed exports (collector down).
    pub fn dropped_spans(&self) -> u64 {
        self.inner.counters.as_ref().map_or(0, |c| c.dropped())
    }

    /// Export counters, when this tracker's pipeline counts.
    pub fn export_counters(&self) -> Option<&ExportCounters> {
        self.inner.counters.as_deref()
    }

    /// Producer side: records the run as pending and returns the headers to put in the task's
    /// message (W3C `traceparent`/`tracestate` and `tasklens-enqueued-at`). Params that cannot
    /// be serialized are replaced by a note rather than failing the enqueue.
    pub fn enqueue<P: Serialize + ?Sized>(
        &self,
        task_name: &str,
        task_id: &str,
        params: &P,
    ) -> HashMap<String, String> {
        self.enqueue_run(&TaskRun::new(task_name, task_id).params_lossy(params))
    }

    /// Producer side for a fully described run (attempt, queue).
    pub fn enqueue_run(&self, run: &TaskRun) -> HashMap<String, String> {
        let now = SystemTime::now();
        if self.skip_spans(1) {
            let mut headers = HashMap::with_capacity(3);
            TraceContextPropagator::new().inject_context(&Context::current(), &mut headers);
            headers.insert(HEADER_ENQUEUED_AT.to_owned(), unix_nanos(now).to_string());
            return headers;
        }
        let mut attributes = run.identity();
        attributes.push(KeyValue::new(TASK_STATE, "pending"));
        if let Some(params) = self.params_attribute(run) {
            attributes.push(params);
        }
        let span = self
            .inner
            .tracer
            .span_builder(format!("{ENQUEUE_SPAN_PREFIX}{}", run.task_name.as_str()))
            .with_kind(SpanKind::Producer)
            .with_start_time(now)
            .with_attributes(attributes)
            .start_with_context(&self.inner.tracer, &Context::current());
        let cx = Context::current_with_span(span);
        let mut headers = HashMap::with_capacity(3);
        TraceContextPropagator::new().inject_context(&cx, &mut headers);
        headers.insert(HEADER_ENQUEUED_AT.to_owned(), unix_nanos(now).to_string());
        cx.span().end_with_timestamp(now);
        headers
    }

    /// Worker side, as a guard: reports running now; the run ends with [`RunGuard::succeed`]
    /// or [`RunGuard::fail`], or as failed ("cancelled") when the guard is dropped unfinished.
    pub fn start(&self, run: &TaskRun) -> RunGuard {
        if self.skip_spans(2) {
            return RunGuard {
                context: run.remote_parent.clone().unwrap_or_else(Context::current),
                finished: true,
                recording: false,
            };
        }
        let now = SystemTime::now();
        let tracer = &self.inner.tracer;
        let identity = run.identity();
        let mut attributes = identity.clone();
        if let Some(nanos) = run.enqueued_at_unix_nano {
            attributes.push(KeyValue::new(TASK_ENQUEUED_AT, nanos));
        }
        if let Some(params) = self.params_attribute(run) {
            attributes.push(params);
        }
        let ambient = Context::current();
        let (parent, links) = match &run.remote_parent {
            // The run continues the enqueue's trace; the worker's own active span, if any, is
            // kept as a link.
            Some(remote) => {
                let links = if ambient.has_active_span() {
                    vec![Link::with_context(ambient.span().span_context().clone())]
                } else {
                    Vec::new()
                };
                (remote.clone(), links)
            }
            None => (ambient, Vec::new()),
        };
        let run_span = tracer
            .span_builder(format!("{RUN_SPAN_PREFIX}{}", run.task_name.as_str()))
            .with_kind(SpanKind::Consumer)
            .with_start_time(now)
            .with_attributes(attributes)
            .with_links(links)
            .start_with_context(tracer, &parent);
        let run_cx = parent.with_span(run_span);

        // Exporters send a span when it ends: this one ends at once so "running" is seen now.
        let mut signal_attributes = identity;
        signal_attributes.push(KeyValue::new(TASK_STATE, "running"));
        if let Some(nanos) = run.enqueued_at_unix_nano {
            signal_attributes.push(KeyValue::new(TASK_ENQUEUED_AT, nanos));
        }
        let mut signal = tracer
            .span_builder(format!("{START_SPAN_PREFIX}{}", run.task_name.as_str()))
            .with_kind(SpanKind::Internal)
            .with_start_time(now)
            .with_attributes(signal_attributes)
            .start_with_context(tracer, &run_cx);
        opentelemetry::trace::Span::end_with_timestamp(&mut signal, now);

        RunGuard {
            context: run_cx,
            finished: false,
            recording: true,
        }
    }

    /// Worker side: runs the task, reporting running now and success or failed when it ends.
    /// An `Err` is recorded (message, type, source chain, backtrace when captured) and returned
    /// unchanged; a panic is recorded as failed and then resumed unchanged. The run span is the
    /// current OpenTelemetry context inside the task, so its own spans (and `tracing` spans
    /// through tracing-opentelemetry) become children of the run.
    pub async fn run<F, T, E>(&self, run: TaskRun, task: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Error,
    {
        self.run_reporting(run, task, |error| FailureReport::from_error(error))
            .await
    }

    /// [`Tracker::run`] for errors behind a trait object: `anyhow::Error`,
    /// `Box<dyn Error + Send + Sync>` and the like. The reported type is `E`'s name.
    pub async fn run_dyn<F, T, E>(&self, run: TaskRun, task: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: AsRef<dyn Error + Send + Sync + 'static>,
    {
        self.run_reporting(run, task, |error| {
            FailureReport::from_dyn(error.as_ref(), std::any::type_name::<E>())
        })
        .await
    }

    async fn run_reporting<F, T, E>(
        &self,
        run: TaskRun,
        task: F,
        report: impl FnOnce(&E) -> FailureReport,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let guard = self.start(&run);
        let outcome = AssertUnwindSafe(task.with_context(guard.context.clone()))
            .catch_unwind()
            .await;
        match outcome {
            Ok(Ok(value)) => {
                guard.succeed();
                Ok(value)
            }
            Ok(Err(error)) => {
                guard.fail_with(report(&error));
                Err(error)
            }
            Err(payload) => {
                guard.fail_with(FailureReport::from_panic(&*payload));
                resume_unwind(payload)
            }
        }
    }

    /// With the buffer full the spans would be dropped: count them and do not make them.
    fn skip_spans(&self, spans: u64) -> bool {
        match &self.inner.counters {
            Some(counters) if counters.is_full() => {
                counters.count_skipped(spans);
                true
            }
            _ => false,
        }
    }

    fn params_attribute(&self, run: &TaskRun) -> Option<KeyValue> {
        let mut params = run.params.clone()?;
        self.inner.redactor.redact(&mut params);
        // Serialized once; only oversized params take the capping path.
        let serialized = params.to_string();
        let serialized = if serialized.len() <= MAX_TEXT_BYTES {
            serialized
        } else {
            cap_params(params).to_string()
        };
        Some(KeyValue::new(TASK_PARAMS, serialized))
    }
}

/// A run in progress. Finish it with [`RunGuard::succeed`] or [`RunGuard::fail`]; dropping it
/// unfinished records the run as failed (cancelled).
#[derive(Debug)]
#[must_use = "a run guard dropped at once records the run as cancelled"]
pub struct RunGuard {
    context: Context,
    finished: bool,
    /// False when the run's spans were not made (buffer full): the context is then the
    /// parent's, which must not be touched.
    recording: bool,
}

impl RunGuard {
    /// The run span's context: make it current for work that belongs to the run.
    pub fn context(&self) -> &Context {
        &self.context
    }

    pub fn succeed(mut self) {
        self.finished = true;
        if !self.recording {
            return;
        }
        let span = self.context.span();
        span.set_attribute(KeyValue::new(TASK_STATE, "success"));
        span.set_status(Status::Ok);
        span.end();
    }

    pub fn fail<E: Error + ?Sized>(self, error: &E) {
        self.fail_with(FailureReport::from_error(error));
    }

    pub fn fail_with(mut self, report: FailureReport) {
        self.finished = true;
        if self.recording {
            record_failure(&self.context, report);
        }
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.finished && self.recording {
            record_failure(&self.context, FailureReport::cancelled());
        }
    }
}

fn record_failure(context: &Context, report: FailureReport) {
    let span = context.span();
    let mut event = Vec::with_capacity(3);
    event.push(KeyValue::new(EXCEPTION_TYPE, report.error_type));
    event.push(KeyValue::new(EXCEPTION_MESSAGE, report.message.clone()));
    if let Some(backtrace) = report.backtrace {
        event.push(KeyValue::new(EXCEPTION_STACKTRACE, backtrace));
    }
    span.add_event(EXCEPTION_EVENT, event);
    if let Some(chain) = report.chain {
        span.set_attribute(KeyValue::new(ERROR_CHAIN, chain));
    }
    span.set_attribute(KeyValue::new(TASK_STATE, "failed"));
    span.set_status(Status::error(report.message));
    span.end();
}
