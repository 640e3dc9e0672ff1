//! The recorded failures, read as the fingerprint sees them.

use serde_json::Value;

use crate::fingerprint::{Fingerprint, fingerprint, in_app_frames};

pub(super) const PYTHON: &str = include_str!("../testdata/python.json");
pub(super) const NODE: &str = include_str!("../testdata/node.json");
pub(super) const RUST: &str = include_str!("../testdata/rust.json");
pub(super) const CELERY_SPAN: &str =
    include_str!("../../../../collector/tests/fixtures/celery/failure-2.json");
pub(super) const CELERY_LOG: &str =
    include_str!("../../../../collector/tests/fixtures/celery/failure-logs-1.json");
pub(super) const CELERY_RETRY: &str =
    include_str!("../../../../collector/tests/fixtures/celery/retry-2.json");
pub(super) const TASKIQ_SPAN: &str =
    include_str!("../../../../collector/tests/fixtures/taskiq/failure-2.json");
pub(super) const TASKIQ_LOG: &str =
    include_str!("../../../../collector/tests/fixtures/taskiq/failure-logs-1.json");
pub(super) const TASKIQ_RETRY: &str =
    include_str!("../../../../collector/tests/fixtures/taskiq/retry-exhausted-2.json");

/// A failed run as the fingerprint sees it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub label: String,
    pub task: String,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub traceback: Option<String>,
}

impl Failure {
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(
            &crate::TaskType::new(&self.task, None, None),
            self.error_type.as_deref(),
            self.message.as_deref(),
            self.traceback.as_deref(),
        )
    }

    pub fn frames(&self) -> Vec<(String, String)> {
        in_app_frames(self.traceback.as_deref().unwrap_or_default())
            .into_iter()
            .map(|f| (f.function, f.file))
            .collect()
    }
}

pub(super) fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("test data is JSON")
}

pub(super) fn text(record: &Value, key: &str) -> Option<String> {
    record[key].as_str().map(str::to_owned)
}

/// A failure of `record_python.py`: its deploy (1, or 2 with every line moved), task and
/// arguments as printed.
pub(super) fn py(deploy: u64, task: &str, args: &str) -> Failure {
    let records = parse(PYTHON);
    let record = records
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["deploy"] == deploy && r["task"] == task && r["args"] == args)
        .unwrap_or_else(|| panic!("no Python record {deploy} {task} {args}"));
    Failure {
        label: format!("python {deploy} {task}{args}"),
        task: task.to_owned(),
        error_type: text(record, "type"),
        message: text(record, "message"),
        traceback: text(record, "stacktrace"),
    }
}

pub(super) fn node_record(deploy: u64, task: &str, data: &str) -> Value {
    let records = parse(NODE);
    records
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["deploy"] == deploy && r["task"] == task && r["data"] == data)
        .cloned()
        .unwrap_or_else(|| panic!("no Node record {deploy} {task} {data}"))
}

/// A failure of `record_node.mjs` as an OpenTelemetry JS `recordException` reports it.
pub(super) fn node(deploy: u64, task: &str, data: &str) -> Failure {
    let record = node_record(deploy, task, data);
    Failure {
        label: format!("node {deploy} {task} {data}"),
        task: task.to_owned(),
        error_type: text(&record, "type"),
        message: text(&record, "message"),
        traceback: text(&record, "stacktrace"),
    }
}

/// The same failure as bullmq-otel reports it: the reason alone, no type, no stack.
pub(super) fn bullmq(deploy: u64, task: &str, data: &str) -> Failure {
    let record = node_record(deploy, task, data);
    Failure {
        label: format!("bullmq {deploy} {task} {data}"),
        task: task.to_owned(),
        error_type: None,
        message: text(&record, "bullmq_failed_reason"),
        traceback: None,
    }
}

/// A failed run of the demo worker as the collector stored it: `fp-backtrace` ran with
/// RUST_BACKTRACE=1, `fp-chain` without.
pub(super) fn rust(service: &str, task: &str, message_start: &str) -> Failure {
    let records = parse(RUST);
    let record = records
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| {
            r["service"] == service
                && r["task"] == task
                && r["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message_start))
        })
        .unwrap_or_else(|| panic!("no Rust record {service} {task} {message_start}"));
    Failure {
        label: format!("rust {service} {task} {message_start}"),
        task: task.to_owned(),
        error_type: text(record, "type"),
        message: text(record, "message"),
        traceback: text(record, "traceback"),
    }
}

/// Every error an OTLP export reports, in order: exception attributes (span events and log
/// records) and the sources' own retry reasons, as the recognizer reads them.
pub(super) fn otlp(json: &str, task: &str) -> Vec<Failure> {
    fn walk(value: &Value, task: &str, out: &mut Vec<Failure>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::Array(attributes)) = object.get("attributes") {
                    let get = |key: &str| {
                        attributes
                            .iter()
                            .find(|a| a["key"] == key)
                            .and_then(|a| a["value"]["stringValue"].as_str())
                            .map(str::to_owned)
                    };
                    let reason = get("celery.retry.reason").or(get("taskiq.retry.reason"));
                    let message = get("exception.message").or(reason);
                    if message.is_some() {
                        out.push(Failure {
                            label: format!("{task} #{}", out.len()),
                            task: task.to_owned(),
                            error_type: get("exception.type"),
                            message,
                            traceback: get("exception.stacktrace"),
                        });
                    }
                }
                object.values().for_each(|v| walk(v, task, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, task, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&parse(json), task, &mut out);
    out
}

pub(super) fn one(failures: Vec<Failure>) -> Failure {
    assert_eq!(failures.len(), 1, "{failures:?}");
    failures.into_iter().next().expect("one failure")
}

pub(super) fn with_task(failure: Failure, task: &str) -> Failure {
    Failure {
        label: format!("{} as {task}", failure.label),
        task: task.to_owned(),
        ..failure
    }
}
