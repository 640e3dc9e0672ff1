//! Small builders of OTLP spans, log records and requests for the recognizers' tests.

use chrono::{DateTime, TimeZone, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tasklens_model::{Redactor, TaskRunEvent};

use super::{Recognized, Recognizer};

/// A start time for spans (Unix nanoseconds), and the time tasklens observes them.
pub(crate) const T0: u64 = 1_790_000_000_000_000_000;
pub(crate) const MS: u64 = 1_000_000;
pub(crate) const SERVICE: &str = "worker-svc";
pub(crate) const HOST: &str = "host-1";

pub(crate) fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(v.to_owned())),
    }
}
pub(crate) fn i(v: i64) -> AnyValue {
    AnyValue {
        value: Some(Value::IntValue(v)),
    }
}
pub(crate) fn d(v: f64) -> AnyValue {
    AnyValue {
        value: Some(Value::DoubleValue(v)),
    }
}
pub(crate) fn b(v: bool) -> AnyValue {
    AnyValue {
        value: Some(Value::BoolValue(v)),
    }
}
pub(crate) fn array(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(Value::ArrayValue(ArrayValue { values })),
    }
}
pub(crate) fn kv(values: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(Value::KvlistValue(KeyValueList { values })),
    }
}
pub(crate) fn attr(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

/// A trace id or span id made of one repeated byte.
pub(crate) fn trace(n: u8) -> Vec<u8> {
    vec![n; 16]
}
pub(crate) fn sid(n: u8) -> Vec<u8> {
    vec![n; 8]
}
pub(crate) fn sid_hex(n: u8) -> String {
    hex::encode(sid(n))
}

pub(crate) fn observed() -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_100, 0)
        .single()
        .unwrap_or_default()
}

pub(crate) fn at(nanos: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::try_from(nanos).unwrap_or_default())
}

/// A span: trace 1, span 2, no parent, INTERNAL, lasting 10 ms from [`T0`].
#[derive(Debug, Clone)]
pub(crate) struct SpanBuilder {
    span: Span,
}

impl SpanBuilder {
    pub fn new(name: &str) -> Self {
        SpanBuilder {
            span: Span {
                trace_id: trace(1),
                span_id: sid(2),
                name: name.to_owned(),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: T0,
                end_time_unix_nano: T0 + 10 * MS,
                ..Default::default()
            },
        }
    }
    pub fn consumer(name: &str) -> Self {
        Self::new(name).kind(SpanKind::Consumer)
    }
    pub fn producer(name: &str) -> Self {
        Self::new(name).kind(SpanKind::Producer)
    }
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.span.kind = kind as i32;
        self
    }
    pub fn ids(mut self, trace_n: u8, span_n: u8) -> Self {
        self.span.trace_id = trace(trace_n);
        self.span.span_id = sid(span_n);
        self
    }
    pub fn trace_id(mut self, id: Vec<u8>) -> Self {
        self.span.trace_id = id;
        self
    }
    pub fn span_id(mut self, id: Vec<u8>) -> Self {
        self.span.span_id = id;
        self
    }
    pub fn parent(self, span_n: u8) -> Self {
        self.raw_parent(sid(span_n))
    }
    pub fn raw_parent(mut self, id: Vec<u8>) -> Self {
        self.span.parent_span_id = id;
        self
    }
    pub fn times(mut self, start: u64, end: u64) -> Self {
        self.span.start_time_unix_nano = start;
        self.span.end_time_unix_nano = end;
        self
    }
    pub fn attr(mut self, key: &str, value: AnyValue) -> Self {
        self.span.attributes.push(attr(key, value));
        self
    }
    pub fn error(mut self, message: &str) -> Self {
        self.span.status = Some(Status {
            message: message.to_owned(),
            code: StatusCode::Error as i32,
        });
        self
    }
    pub fn ok_status(mut self, message: &str) -> Self {
        self.span.status = Some(Status {
            message: message.to_owned(),
            code: StatusCode::Ok as i32,
        });
        self
    }
    pub fn event(mut self, name: &str, attributes: Vec<KeyValue>) -> Self {
        self.span.events.push(Event {
            time_unix_nano: self.span.start_time_unix_nano + MS,
            name: name.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        });
        self
    }
    pub fn timed_event(mut self, name: &str, time: u64) -> Self {
        self.span.events.push(Event {
            time_unix_nano: time,
            name: name.to_owned(),
            attributes: vec![],
            dropped_attributes_count: 0,
        });
        self
    }
    pub fn exception(self, error_type: &str, message: &str, stack: &str) -> Self {
        self.event(
            "exception",
            vec![
                attr("exception.type", s(error_type)),
                attr("exception.message", s(message)),
                attr("exception.stacktrace", s(stack)),
            ],
        )
    }
    pub fn link(mut self, trace_n: u8, span_n: u8) -> Self {
        self.span.links.push(Link {
            trace_id: trace(trace_n),
            span_id: sid(span_n),
            ..Default::default()
        });
        self
    }
    pub fn build(self) -> Span {
        self.span
    }
}

fn resource() -> Resource {
    Resource {
        attributes: vec![attr("service.name", s(SERVICE)), attr("host.name", s(HOST))],
        ..Default::default()
    }
}

/// One request with `spans` under one resource (service [`SERVICE`], host [`HOST`]).
pub(crate) fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A log record in span (`trace_n`, `span_n`) with an exception.
pub(crate) fn exception_log(trace_n: u8, span_n: u8, message: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: T0 + 5 * MS,
        trace_id: trace(trace_n),
        span_id: sid(span_n),
        body: Some(s("task failed")),
        attributes: vec![
            attr("exception.type", s("ValueError")),
            attr("exception.message", s(message)),
            attr(
                "exception.stacktrace",
                s("Traceback (most recent call last): ..."),
            ),
        ],
        ..Default::default()
    }
}

pub(crate) fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource()),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub(crate) fn recognizer() -> Recognizer {
    Recognizer::new(Redactor::default(), 1024)
}

/// Recognizes `spans` with a fresh recognizer.
pub(crate) fn recognize_spans(spans: Vec<Span>) -> Recognized {
    recognizer().traces(&traces(spans), observed())
}

/// The only event of `recognized`, or a panic naming what was there instead.
pub(crate) fn single(recognized: &Recognized) -> &TaskRunEvent {
    assert_eq!(
        recognized.events.len(),
        1,
        "expected one event; rejected {:?}, ignored {}",
        recognized.rejected,
        recognized.ignored
    );
    &recognized.events[0]
}
