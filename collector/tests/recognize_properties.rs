//! Properties of span recognition over random, mostly hostile, OTLP exports: recognition never
//! panics, every event it returns already passes `TaskRunEvent::prepare`, every span is
//! accounted for exactly once, the outcome is a function of the input, and well-formed task
//! spans are accepted whatever their field contents (huge, unicode...).

use std::collections::HashSet;

use chrono::{DateTime, TimeZone, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use tasklens_collector::recognize::{Recognized, Recognizer};
use tasklens_model::limits::MAX_NAME_BYTES;
use tasklens_model::{Redactor, TaskRunEvent, TaskStatus};

const T0: u64 = 1_790_000_000_000_000_000;

/// Every key a recognizer reads, plus a few it does not.
const KEYS: &[&str] = &[
    "tasklens.task.name",
    "tasklens.task.id",
    "tasklens.task.attempt",
    "tasklens.task.params",
    "tasklens.task.queue",
    "tasklens.task.state",
    "tasklens.task.enqueued_at_unix_nano",
    "tasklens.error.chain",
    "celery.action",
    "celery.task_name",
    "celery.state",
    "celery.retries",
    "celery.hostname",
    "celery.delivery_info",
    "celery.retry.reason",
    "messaging.message.id",
    "messaging.message_id",
    "messaging.destination.name",
    "messaging.destination",
    "messaging.system",
    "messaging.operation.type",
    "messaging.operation",
    "taskiq.action",
    "taskiq.task_name",
    "taskiq._retries",
    "taskiq.labels._retries",
    "taskiq.retry.reason",
    "bullmq.job.id",
    "bullmq.job.name",
    "bullmq.job.attempts.made",
    "bullmq.queue.name",
    "bullmq.job.failed.reason",
    "messaging.sidekiq.job_class",
    "messaging.sidekiq.retry_count",
    "exception.type",
    "exception.message",
    "exception.stacktrace",
    "service.name",
    "host.name",
    "http.method",
    "",
];

/// String values that mean something to a recognizer.
const WORDS: &[&str] = &[
    "run",
    "apply_async",
    "execute",
    "send",
    "SUCCESS",
    "FAILURE",
    "RETRY",
    "pending",
    "running",
    "success",
    "failed",
    "sidekiq",
    "process",
    "publish",
    "create",
    "receive",
    "kafka",
    "0",
    "1",
    "-1",
    "2147483648",
    "99999999999999999999",
    "{\"password\": \"hunter2\", \"n\": [1, {\"token\": 2}]}",
    "{'exchange': '', 'routing_key': 'celery'}",
    "{'routing_key': '",
    "[[[[[[[[[[",
    "",
    " ",
    "é",
];

fn huge_string() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['x', 'é', '\u{1F600}', ' ']),
        60_000..70_000usize,
    )
        .prop_map(|(c, n)| c.to_string().repeat(n))
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(WORDS).prop_map(str::to_owned),
        3 => "\\PC{0,12}",
        1 => huge_string(),
    ]
}

fn leaf() -> impl Strategy<Value = AnyValue> {
    let value = prop_oneof![
        8 => string().prop_map(Value::StringValue),
        3 => prop_oneof![-3i64..5, any::<i64>()].prop_map(Value::IntValue),
        2 => prop_oneof![Just(2.0f64), Just(0.5), Just(f64::NAN), Just(f64::INFINITY), any::<f64>()]
            .prop_map(Value::DoubleValue),
        1 => any::<bool>().prop_map(Value::BoolValue),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::BytesValue),
        1 => any::<i32>().prop_map(Value::StringValueStrindex),
    ];
    prop_oneof![
        12 => value.prop_map(|v| AnyValue { value: Some(v) }),
        1 => Just(AnyValue { value: None }),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values }))
            }),
            prop::collection::vec((key(), inner), 0..4).prop_map(|pairs| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: pairs
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value: Some(value),
                            ..Default::default()
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z._]{0,12}",
    ]
}

fn attributes(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((key(), prop::option::weighted(0.95, any_value())), 0..max).prop_map(
        |pairs| {
            pairs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key,
                    value,
                    ..Default::default()
                })
                .collect()
        },
    )
}

/// Ids from a tiny pool (so spans join each other: parents, producers, log records), or
/// broken ones.
fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        40 => (1u8..5).prop_map(move |n| vec![n; len]),
        1 => Just(vec![]),
        1 => Just(vec![0; len]),
        1 => prop::collection::vec(any::<u8>(), 0..20),
    ]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        30 => (0u64..1_000_000_000).prop_map(|d| T0 + d),
        1 => Just(0u64),
        1 => any::<u64>(),
    ]
}

/// A value that is usually plausible for a field, sometimes hostile.
fn field() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        8 => "[a-z0-9:_-]{1,10}".prop_map(|s| AnyValue {
            value: Some(Value::StringValue(s))
        }),
        1 => any_value(),
    ]
}

fn number() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        4 => (0i64..4).prop_map(|n| AnyValue { value: Some(Value::IntValue(n)) }),
        2 => (0i64..4).prop_map(|n| AnyValue { value: Some(Value::StringValue(n.to_string())) }),
        1 => any_value(),
    ]
}

fn word(words: &'static [&'static str]) -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        6 => prop::sample::select(words)
            .prop_map(|w| AnyValue { value: Some(Value::StringValue(w.to_owned())) }),
        1 => any_value(),
    ]
}

type Fields = Vec<(&'static str, Option<AnyValue>)>;

fn opt(value: impl Strategy<Value = AnyValue>) -> impl Strategy<Value = Option<AnyValue>> {
    prop::option::weighted(0.7, value)
}

/// The attributes of a plausible task span of one of the sources.
fn template() -> impl Strategy<Value = Fields> {
    prop_oneof![
        3 => (field(), field(), opt(number()), opt(word(&["pending", "running", "success", "failed", "done"])),
            opt(any_value()), opt(field()), opt(number()), opt(field()))
            .prop_map(|(name, id, attempt, state, params, queue, enqueued, chain)| vec![
                ("tasklens.task.name", Some(name)),
                ("tasklens.task.id", Some(id)),
                ("tasklens.task.attempt", attempt),
                ("tasklens.task.state", state),
                ("tasklens.task.params", params),
                ("tasklens.task.queue", queue),
                ("tasklens.task.enqueued_at_unix_nano", enqueued),
                ("tasklens.error.chain", chain),
            ]),
        3 => (word(&["run", "apply_async", "other"]), opt(field()), opt(field()),
            opt(word(&["SUCCESS", "FAILURE", "RETRY", "REVOKED"])), opt(number()), opt(field()),
            opt(word(&["{'routing_key': 'q'}", "{'routing_key': '"])), opt(field()))
            .prop_map(|(action, name, id, state, retries, host, info, reason)| vec![
                ("celery.action", Some(action)),
                ("celery.task_name", name),
                ("messaging.message.id", id),
                ("celery.state", state),
                ("celery.retries", retries),
                ("celery.hostname", host),
                ("celery.delivery_info", info),
                ("celery.retry.reason", reason),
            ]),
        3 => (opt(word(&["execute", "send", "startup"])), field(), opt(field()), opt(number()), opt(number()), opt(field()))
            .prop_map(|(action, name, id, retries, label, reason)| vec![
                ("taskiq.action", action),
                ("taskiq.task_name", Some(name)),
                ("messaging.message.id", id),
                ("taskiq._retries", retries),
                ("taskiq.labels._retries", label),
                ("taskiq.retry.reason", reason),
            ]),
        3 => (opt(field()), opt(field()), opt(field()), opt(number()), opt(field()))
            .prop_map(|(id, name, queue, attempts, reason)| vec![
                ("bullmq.job.id", id),
                ("bullmq.job.name", name),
                ("bullmq.queue.name", queue),
                ("bullmq.job.attempts.made", attempts),
                ("bullmq.job.failed.reason", reason),
                ("bullmq.worker.name", None),
            ]),
        3 => (word(&["sidekiq", "Sidekiq"]), opt(field()), opt(field()), opt(field()), opt(number()))
            .prop_map(|(system, class, jid, queue, retry_count)| vec![
                ("messaging.system", Some(system)),
                ("messaging.sidekiq.job_class", class),
                ("messaging.message_id", jid),
                ("messaging.destination", queue),
                ("messaging.sidekiq.retry_count", retry_count),
            ]),
        3 => (field(), word(&["process", "send", "create", "publish", "receive", "settle"]),
            any::<bool>(), opt(field()), opt(field()))
            .prop_map(|(system, operation, new_key, destination, id)| vec![
                ("messaging.system", Some(system)),
                (if new_key { "messaging.operation.type" } else { "messaging.operation" }, Some(operation)),
                ("messaging.destination.name", destination),
                ("messaging.message.id", id),
            ]),
        1 => Just(vec![]),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["exception", "job failed", "enqueued_at", "other", ""]),
        time(),
        attributes(5),
    )
        .prop_map(|(name, time_unix_nano, attributes)| Event {
            time_unix_nano,
            name: name.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        })
}

fn span() -> impl Strategy<Value = Span> {
    let ids = (id(16), id(8), prop_oneof![2 => Just(vec![]), 3 => id(8)]);
    let kind = prop_oneof![
        4 => Just(SpanKind::Consumer as i32),
        3 => Just(SpanKind::Producer as i32),
        1 => 0i32..=3,
        1 => any::<i32>(),
    ];
    let status = prop::option::of((prop_oneof![4 => 0i32..=2, 1 => any::<i32>()], string()))
        .prop_map(|s| s.map(|(code, message)| Status { message, code }));
    let name = prop_oneof![
        prop::sample::select(vec![
            "run/score",
            "process emails",
            "execute/x",
            "send/x",
            "apply_async/y",
            ""
        ])
        .prop_map(str::to_owned),
        string(),
    ];
    let links = prop::collection::vec((id(16), id(8)), 0..2).prop_map(|links| {
        links
            .into_iter()
            .map(|(trace_id, span_id)| Link {
                trace_id,
                span_id,
                ..Default::default()
            })
            .collect::<Vec<_>>()
    });
    // hostile attributes before the template override it (the first of a repeated key wins)
    let attributes =
        (attributes(2), template(), attributes(5)).prop_map(|(before, template, after)| {
            let mut all = before;
            all.extend(template.into_iter().filter_map(|(key, value)| {
                value.map(|value| KeyValue {
                    key: key.to_owned(),
                    value: Some(value),
                    ..Default::default()
                })
            }));
            all.extend(after);
            all
        });
    (
        ids,
        kind,
        name,
        (
            time(),
            prop_oneof![8 => 0u64..50_000_000, 1 => any::<u64>()],
            prop::bool::weighted(0.05),
        ),
        attributes,
        prop::collection::vec(event(), 0..3),
        links,
        status,
    )
        .prop_map(
            |(
                (trace_id, span_id, parent_span_id),
                kind,
                name,
                (start, delta, absolute),
                attributes,
                events,
                links,
                status,
            )| {
                // mostly end = start + delta; sometimes an arbitrary end (missing, before start)
                let end = if absolute {
                    delta
                } else {
                    start.saturating_add(delta)
                };
                Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    events,
                    links,
                    status,
                    ..Default::default()
                }
            },
        )
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    prop::option::weighted(0.9, attributes(4)).prop_map(|attributes| {
        attributes.map(|attributes| Resource {
            attributes,
            ..Default::default()
        })
    })
}

fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    prop::collection::vec((resource(), prop::collection::vec(span(), 0..8)), 0..3).prop_map(
        |groups| ExportTraceServiceRequest {
            resource_spans: groups
                .into_iter()
                .map(|(resource, spans)| ResourceSpans {
                    resource,
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        },
    )
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    let exception = (
        opt(field()),
        opt(field()),
        opt(string().prop_map(|s| AnyValue {
            value: Some(Value::StringValue(s)),
        })),
    )
        .prop_map(|(error_type, message, stack)| {
            [
                ("exception.type", error_type),
                ("exception.message", message),
                ("exception.stacktrace", stack),
            ]
            .into_iter()
            .filter_map(|(key, value)| {
                value.map(|value| KeyValue {
                    key: key.to_owned(),
                    value: Some(value),
                    ..Default::default()
                })
            })
            .collect::<Vec<_>>()
        });
    (
        id(16),
        id(8),
        attributes(3),
        exception,
        prop::option::of(any_value()),
    )
        .prop_map(|(trace_id, span_id, mut attributes, exception, body)| {
            attributes.extend(exception);
            LogRecord {
                trace_id,
                span_id,
                attributes,
                body,
                ..Default::default()
            }
        })
}

fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    (resource(), prop::collection::vec(log_record(), 0..6)).prop_map(|(resource, log_records)| {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource,
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    })
}

#[derive(Debug, Clone)]
enum Export {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
}

fn exports() -> impl Strategy<Value = Vec<Export>> {
    prop::collection::vec(
        prop_oneof![
            3 => traces().prop_map(Export::Traces),
            1 => logs().prop_map(Export::Logs),
        ],
        1..5,
    )
}

fn observed() -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_100, 123_456_000)
        .single()
        .unwrap_or_default()
}

fn apply(recognizer: &mut Recognizer, export: &Export) -> Recognized {
    match export {
        Export::Traces(request) => recognizer.traces(request, observed()),
        Export::Logs(request) => recognizer.logs(request, observed()),
    }
}

fn check_events(events: &[TaskRunEvent]) -> Result<(), TestCaseError> {
    for event in events {
        let prepared = event.clone().prepare();
        prop_assert_eq!(
            prepared.as_ref(),
            Ok(event),
            "an event that prepare() changes or refuses"
        );
        prop_assert_eq!(event.observed_at, observed());
        if event.run.status == TaskStatus::Failed {
            prop_assert!(
                event
                    .run
                    .error_message
                    .as_deref()
                    .is_some_and(|m| !m.trim().is_empty())
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn recognition_never_panics_and_only_returns_valid_events(
        exports in exports(),
        capacity in 0usize..6,
    ) {
        let mut recognizer = Recognizer::new(Redactor::default(), capacity);
        for export in &exports {
            let recognized = apply(&mut recognizer, export);
            check_events(&recognized.events)?;
            let claimed: u64 = recognized.spans_by_source.values().sum();
            match export {
                Export::Traces(request) => {
                    let spans: usize = request
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum();
                    prop_assert_eq!(claimed + recognized.ignored, spans as u64, "each span counted once");
                    prop_assert!(recognized.rejected.len() as u64 <= claimed);
                }
                Export::Logs(request) => {
                    let records: usize = request
                        .resource_logs
                        .iter()
                        .flat_map(|r| &r.scope_logs)
                        .map(|s| s.log_records.len())
                        .sum();
                    prop_assert_eq!(claimed, 0);
                    prop_assert!(recognized.ignored + recognized.rejected.len() as u64 <= records as u64);
                    prop_assert!(recognized.events.iter().all(|e| e.run.status == TaskStatus::Pending));
                }
            }
        }
    }

    #[test]
    fn recognition_is_a_function_of_its_input(exports in exports(), capacity in 0usize..6) {
        let mut a = Recognizer::new(Redactor::default(), capacity);
        let mut b = Recognizer::new(Redactor::default(), capacity);
        for export in &exports {
            let (x, y) = (apply(&mut a, export), apply(&mut b, export));
            prop_assert_eq!(x.events, y.events);
            prop_assert_eq!(x.rejected, y.rejected);
            prop_assert_eq!(x.ignored, y.ignored);
            prop_assert_eq!(x.spans_by_source, y.spans_by_source);
        }
    }
}

/// Text that is never blank: short words, unicode, or huge.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9:_.-]{1,16}",
        2 => "\\PC{0,8}[a-z]",
        1 => huge_string().prop_map(|s| format!("{s}x")),
    ]
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn st(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_owned()))
}

/// A well-formed task span of one of the sources, with arbitrary contents.
fn task_span() -> impl Strategy<Value = (SpanKind, Vec<KeyValue>)> {
    let status = prop::sample::select(vec!["SUCCESS", "FAILURE", "RETRY", "REVOKED"]);
    prop_oneof![
        (text(), text(), 0i64..1000, string()).prop_map(|(name, id, attempt, params)| (
            SpanKind::Consumer,
            vec![
                st("tasklens.task.name", &name),
                st("tasklens.task.id", &id),
                kv("tasklens.task.attempt", Value::IntValue(attempt)),
                st("tasklens.task.params", &params),
            ],
        )),
        (text(), text(), status, 0i64..100).prop_map(|(name, id, state, retries)| (
            SpanKind::Consumer,
            vec![
                st("celery.action", "run"),
                st("celery.task_name", &name),
                st("messaging.message.id", &id),
                st("celery.state", state),
                st("celery.retries", &retries.to_string()),
            ],
        )),
        (text(), text()).prop_map(|(name, id)| (
            SpanKind::Producer,
            vec![
                st("celery.action", "apply_async"),
                st("celery.task_name", &name),
                st("messaging.message.id", &id),
            ],
        )),
        (text(), prop::option::of(text())).prop_map(|(name, reason)| {
            let mut attrs = vec![
                st("taskiq.action", "execute"),
                st("taskiq.task_name", &name),
            ];
            attrs.extend(reason.map(|r| st("taskiq.retry.reason", &r)));
            (SpanKind::Consumer, attrs)
        }),
        (text(), text(), text(), 0i64..10).prop_map(|(name, id, queue, attempts)| (
            SpanKind::Consumer,
            vec![
                st("bullmq.job.name", &name),
                st("bullmq.job.id", &id),
                st("bullmq.queue.name", &queue),
                kv("bullmq.job.attempts.made", Value::IntValue(attempts)),
            ],
        )),
        (text(), text()).prop_map(|(class, jid)| (
            SpanKind::Consumer,
            vec![
                st("messaging.system", "sidekiq"),
                st("messaging.sidekiq.job_class", &class),
                st("messaging.message_id", &jid),
            ],
        )),
        (text(), prop::option::of(text())).prop_map(|(queue, id)| {
            let mut attrs = vec![
                st("messaging.system", "rabbitmq"),
                st("messaging.operation.type", "process"),
                st("messaging.destination.name", &queue),
            ];
            attrs.extend(id.map(|id| st("messaging.message.id", &id)));
            (SpanKind::Consumer, attrs)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_task_spans_are_always_accepted(
        spans in prop::collection::vec(
            (task_span(), any::<[u8; 8]>(), any::<bool>(), 0u64..1_000_000_000, any::<bool>()),
            1..8,
        ),
    ) {
        let mut seen = HashSet::new();
        let spans: Vec<Span> = spans
            .into_iter()
            .filter(|(_, id, ..)| id.iter().any(|b| *b != 0) && seen.insert(*id))
            .map(|((kind, attributes), id, has_parent, duration, error)| Span {
                trace_id: vec![7; 16],
                span_id: id.to_vec(),
                parent_span_id: if has_parent { vec![9; 8] } else { vec![] },
                name: "task".to_owned(),
                kind: kind as i32,
                start_time_unix_nano: T0,
                end_time_unix_nano: T0 + duration,
                attributes,
                status: error.then(|| Status { message: String::new(), code: 2 }),
                ..Default::default()
            })
            .collect();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: spans.clone(), ..Default::default() }],
                ..Default::default()
            }],
        };
        let recognized = Recognizer::new(Redactor::default(), 16).traces(&request, observed());
        prop_assert_eq!(&recognized.rejected, &Vec::<String>::new());
        prop_assert_eq!(recognized.ignored, 0);
        prop_assert_eq!(recognized.events.len(), spans.len());
        check_events(&recognized.events)?;
        for event in &recognized.events {
            prop_assert!(event.run.task_id.len() <= MAX_NAME_BYTES);
            prop_assert!(event.run.task_name.len() <= MAX_NAME_BYTES);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Decode + recognition on arbitrary bytes, as the receivers do: protobuf and OTLP/JSON
    /// decoding either fails cleanly or yields a request that recognition handles without panic.
    #[test]
    fn decoding_and_recognizing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        use prost::Message as _;
        let mut recognizer = tasklens_collector::recognize::Recognizer::new(tasklens_model::Redactor::default(), 64);
        if let Ok(request) = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(bytes.as_slice()) {
            let _ = recognizer.traces(&request, chrono::Utc::now());
        }
        if let Ok(request) = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest::decode(bytes.as_slice()) {
            let _ = recognizer.logs(&request, chrono::Utc::now());
        }
        if let Ok(request) = serde_json::from_slice::<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest>(&bytes) {
            let _ = recognizer.traces(&request, chrono::Utc::now());
        }
    }
}
