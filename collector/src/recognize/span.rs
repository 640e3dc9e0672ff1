//! One span as the recognizers see it: its attributes, its resource, the checks every task span
//! must pass (ids, times), its error details, and the run states built from it.

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tasklens_model::conventions::{
    EXCEPTION_EVENT, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE,
};
use tasklens_model::{RunKey, RunState, TaskStatus};

use super::attributes::{Attrs, preview};
use tasklens_store::joins::SpanRef;

/// The message of a failed run whose span reported no error text at all: the model requires a
/// message on every failed run.
pub(crate) const NO_ERROR_MESSAGE: &str = "task failed (no error message was reported)";

/// The resource attributes the recognizers use.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResourceInfo<'a> {
    pub service_name: Option<&'a str>,
    /// `deployment.environment.name`, or the name semantic conventions before 1.27 used.
    pub environment: Option<&'a str>,
    pub host_name: Option<&'a str>,
}

impl<'a> ResourceInfo<'a> {
    pub fn from_attrs(attrs: Attrs<'a>) -> Self {
        ResourceInfo {
            service_name: attrs.str("service.name"),
            environment: attrs
                .first_str(&["deployment.environment.name", "deployment.environment"]),
            host_name: attrs.str("host.name"),
        }
    }
}

/// A span with its resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanView<'a> {
    pub span: &'a Span,
    pub attrs: Attrs<'a>,
    pub resource: ResourceInfo<'a>,
}

/// What every task span must have: valid ids and a start and end in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Envelope {
    pub at: SpanRef,
    /// The parent span (same trace), if any.
    pub parent: Option<SpanRef>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Which side of a run a span reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The enqueue: the run is pending. Not the worker's span, so it carries neither the trace
    /// ids nor the worker's service and host.
    Producer,
    /// The worker's span (run span, or tasklens's start signal).
    Run,
}

/// A report built from one task span, before the model's validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    pub run: RunState,
    pub role: Role,
    pub at: SpanRef,
}

/// What a recognizer makes of a span it was given: `Ok(None)` when the span turns out not to
/// be a task run (ignored), `Err(reason)` when it is a task span that can never be accepted.
pub(crate) type Outcome = Result<Option<Draft>, String>;

impl<'a> SpanView<'a> {
    pub fn new(span: &'a Span, resource: ResourceInfo<'a>) -> Self {
        SpanView {
            span,
            attrs: Attrs(&span.attributes),
            resource,
        }
    }

    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.span.kind).unwrap_or(SpanKind::Unspecified)
    }

    /// How reasons name the span: its id in hex and the start of its name.
    pub fn label(&self) -> String {
        let id = &self.span.span_id;
        let hex_id = if id.is_empty() {
            "<no span id>".to_owned()
        } else if id.len() > 16 {
            format!("{}..", hex::encode(&id[..16]))
        } else {
            hex::encode(id)
        };
        format!("span {hex_id} ({:?})", preview(&self.span.name))
    }

    /// The checks every task span must pass before any of its fields is used.
    pub fn envelope(&self) -> Result<Envelope, String> {
        let trace_id = fixed_id::<16>("trace_id", &self.span.trace_id)?;
        let span_id = fixed_id::<8>("span_id", &self.span.span_id)?;
        let parent = match self.span.parent_span_id.len() {
            0 => None,
            8 => fixed_id::<8>("parent_span_id", &self.span.parent_span_id)
                .ok()
                .map(|span_id| SpanRef { trace_id, span_id }),
            n => return Err(format!("parent_span_id has {n} bytes, expected 8 or none")),
        };
        let start = unix_nanos(self.span.start_time_unix_nano)
            .ok_or_else(|| time_reason("start", self.span.start_time_unix_nano))?;
        let end = unix_nanos(self.span.end_time_unix_nano)
            .ok_or_else(|| time_reason("end", self.span.end_time_unix_nano))?;
        if end < start {
            return Err(format!(
                "end time {} is before start time {}",
                self.span.end_time_unix_nano, self.span.start_time_unix_nano
            ));
        }
        Ok(Envelope {
            at: SpanRef { trace_id, span_id },
            parent,
            start,
            end,
        })
    }

    pub fn status_is_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32)
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&'a Event> {
        self.span.events.iter().find(|e| e.name == name)
    }

    /// The first `exception` event.
    pub fn exception(&self) -> Option<&'a Event> {
        self.event(EXCEPTION_EVENT)
    }

    /// The common failure rule: status ERROR or an `exception` event.
    pub fn reports_error(&self) -> bool {
        self.status_is_error() || self.exception().is_some()
    }

    /// The error of a failed run. Message: the first `exception` event's message, else the
    /// ERROR status message, else `own_reason` (a source's own failure attribute), else
    /// [`NO_ERROR_MESSAGE`]. Type and traceback from the same exception event.
    pub fn failure(&self, own_reason: Option<&str>) -> Failure {
        let exception = self.exception().map(|e| Attrs(&e.attributes));
        let status_message = self
            .span
            .status
            .as_ref()
            .filter(|_| self.status_is_error())
            .map(|s| s.message.as_str())
            .filter(|m| !m.trim().is_empty());
        let message = exception
            .and_then(|e| e.str(EXCEPTION_MESSAGE))
            .or(status_message)
            .or(own_reason.filter(|r| !r.trim().is_empty()))
            .unwrap_or(NO_ERROR_MESSAGE);
        Failure {
            message: message.to_owned(),
            error_type: exception
                .and_then(|e| e.str(EXCEPTION_TYPE))
                .map(str::to_owned),
            traceback: exception
                .and_then(|e| e.str(EXCEPTION_STACKTRACE))
                .map(str::to_owned),
        }
    }

    /// A report of the worker's span: started (and completed if finished), with the trace ids,
    /// the worker's service and host (`worker_host` beats the resource's `host.name`).
    pub fn run_state(
        &self,
        envelope: &Envelope,
        key: RunKey,
        task_name: String,
        status: TaskStatus,
        worker_host: Option<&str>,
    ) -> RunState {
        let mut run = RunState::new(key, task_name, status);
        if status != TaskStatus::Pending {
            run.started_at = Some(envelope.start);
        }
        if status.is_finished() {
            run.completed_at = Some(envelope.end);
        }
        run.trace_id = Some(envelope.at.trace_id);
        run.span_id = Some(envelope.at.span_id);
        run.service_name = self.resource.service_name.map(str::to_owned);
        run.environment = self.resource.environment.map(str::to_owned);
        run.worker_host = worker_host.or(self.resource.host_name).map(str::to_owned);
        run
    }
}

/// A report of the enqueue span: pending, enqueued when the span started.
pub(crate) fn pending_state(envelope: &Envelope, key: RunKey, task_name: String) -> RunState {
    RunState {
        enqueued_at: Some(envelope.start),
        ..RunState::new(key, task_name, TaskStatus::Pending)
    }
}

/// The error of a failed run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub message: String,
    pub error_type: Option<String>,
    pub traceback: Option<String>,
}

impl Failure {
    pub fn apply(self, run: &mut RunState) {
        run.error_message = Some(self.message);
        run.error_type = self.error_type;
        run.error_traceback = self.traceback;
    }
}

/// Unix nanoseconds as a time; 0 (unset) and values beyond chrono's range are `None`.
pub(crate) fn unix_nanos(nanos: u64) -> Option<DateTime<Utc>> {
    if nanos == 0 {
        return None;
    }
    i64::try_from(nanos)
        .ok()
        .map(DateTime::from_timestamp_nanos)
}

fn time_reason(which: &str, nanos: u64) -> String {
    if nanos == 0 {
        format!("{which} time is missing (0)")
    } else {
        format!("{which} time {nanos} is out of range")
    }
}

/// An id of exactly `N` bytes, not all zero (the OTLP specification's invalid id).
pub(crate) fn fixed_id<const N: usize>(what: &str, bytes: &[u8]) -> Result<[u8; N], String> {
    let id: [u8; N] = bytes
        .try_into()
        .map_err(|_| format!("{what} has {} bytes, expected {N}", bytes.len()))?;
    if id.iter().all(|b| *b == 0) {
        return Err(format!("{what} is all zeros (invalid)"));
    }
    Ok(id)
}

/// The part of a span name after `prefix`, e.g. the task in `run/score_message`.
pub(crate) fn name_after<'s>(name: &'s str, prefix: &str) -> Option<&'s str> {
    name.strip_prefix(prefix)
        .filter(|rest| !rest.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::testing::{SpanBuilder, T0, s};

    #[test]
    fn envelope_rejections_say_what_is_wrong() {
        let cases: [(SpanBuilder, &str); 7] = [
            (
                SpanBuilder::new("x").trace_id(vec![1, 2, 3]),
                "trace_id has 3 bytes, expected 16",
            ),
            (
                SpanBuilder::new("x").span_id(vec![0; 8]),
                "span_id is all zeros (invalid)",
            ),
            (
                SpanBuilder::new("x").raw_parent(vec![1; 5]),
                "parent_span_id has 5 bytes, expected 8 or none",
            ),
            (
                SpanBuilder::new("x").times(0, T0),
                "start time is missing (0)",
            ),
            (
                SpanBuilder::new("x").times(T0, 0),
                "end time is missing (0)",
            ),
            (
                SpanBuilder::new("x").times(T0 + 5, T0),
                "end time 1790000000000000000 is before start time 1790000000000000005",
            ),
            (
                SpanBuilder::new("x").times(T0, u64::MAX),
                "end time 18446744073709551615 is out of range",
            ),
        ];
        for (builder, reason) in cases {
            let span = builder.build();
            let view = SpanView::new(&span, ResourceInfo::default());
            assert_eq!(view.envelope(), Err(reason.to_owned()));
        }
    }

    #[test]
    fn an_all_zero_parent_means_no_parent() {
        let span = SpanBuilder::new("x").raw_parent(vec![0; 8]).build();
        let view = SpanView::new(&span, ResourceInfo::default());
        assert_eq!(view.envelope().map(|e| e.parent), Ok(None));
    }

    #[test]
    fn failure_message_precedence() {
        let with_exception = SpanBuilder::new("x")
            .exception("ValueError", "from the event", "Traceback...")
            .error("from the status")
            .build();
        let status_only = SpanBuilder::new("x").error("from the status").build();
        let blank_status = SpanBuilder::new("x").error("  ").build();
        let ok_status_message = SpanBuilder::new("x").ok_status("not an error").build();
        let cases = [
            (&with_exception, Some("own"), "from the event"),
            (&status_only, Some("own"), "from the status"),
            (&blank_status, Some("own"), "own"),
            (&blank_status, Some(" "), NO_ERROR_MESSAGE),
            (&ok_status_message, None, NO_ERROR_MESSAGE),
        ];
        for (span, own, expected) in cases {
            let view = SpanView::new(span, ResourceInfo::default());
            assert_eq!(view.failure(own).message, expected, "{span:?}");
        }
        let view = SpanView::new(&with_exception, ResourceInfo::default());
        let failure = view.failure(None);
        assert_eq!(failure.error_type.as_deref(), Some("ValueError"));
        assert_eq!(failure.traceback.as_deref(), Some("Traceback..."));
    }

    #[test]
    fn labels_are_short_whatever_the_span() {
        let span = SpanBuilder::new(&"n".repeat(10_000))
            .span_id(vec![0xab; 40])
            .attr("k", s("v"))
            .build();
        let label = SpanView::new(&span, ResourceInfo::default()).label();
        assert!(label.len() < 200, "{label}");
        assert!(label.starts_with("span abababab"));
    }
}
