//! `otlp_logs`: bytes as an `ExportLogsServiceRequest`, protobuf and OTLP/JSON, and the joins
//! of the exception reports it carries with the run spans they were logged in.

use std::collections::BTreeSet;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use tasklens_collector::otlp_json;
use tasklens_collector::recognize::Recognized;
use tasklens_model::limits::{cap_text, cap_text_end, without_nul};
use tasklens_model::{SourceSystem, TaskStatus};
use tasklens_store::joins::{ErrorReport, SpanRef, WAITING_ERRORS_MAX};

use super::*;

/// Decodes `bytes` both ways and checks the recognition of whatever decodes.
pub fn logs(bytes: &[u8]) {
    if let Ok(request) = ExportLogsServiceRequest::decode(bytes) {
        let recognized = check(&request);
        let again = reencoded(&request, "a logs export");
        assert_same(&recognized, &recognize(&again), "re-encoded protobuf");
    }
    if let Ok(request) = otlp_json::decode::<ExportLogsServiceRequest>(bytes) {
        let recognized = check(&request);
        let protobuf = reencoded(&request, "a JSON logs export");
        assert_same(
            &recognized,
            &recognize(&protobuf),
            "the JSON export as protobuf",
        );
    }
}

fn recognize(request: &ExportLogsServiceRequest) -> Recognized {
    collector_recognizer().logs(request, observed())
}

fn record_count(request: &ExportLogsServiceRequest) -> u64 {
    let records: usize = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    records as u64
}

/// `ErrorReport::capped` promises "the same values the store would keep": each field is what
/// `RunState::normalized` makes of it, so folding waiting reports and merging stored ones agree.
fn check_report(report: &ErrorReport) {
    let any = report.message.is_some() || report.error_type.is_some() || report.traceback.is_some();
    assert!(any, "an error report without any exception field");
    let kept = ErrorReport {
        message: report
            .message
            .clone()
            .map(|s| cap_text(without_nul(s), MAX_TEXT_BYTES)),
        error_type: report
            .error_type
            .clone()
            .map(|s| cap_text(without_nul(s), MAX_NAME_BYTES)),
        traceback: report
            .traceback
            .clone()
            .map(|s| cap_text_end(without_nul(s), MAX_TEXT_BYTES)),
    };
    assert_eq!(
        &kept, report,
        "an error report the store would keep otherwise"
    );
}

/// The collector's recognition of a decoded export, checked; returned for comparisons.
fn check(request: &ExportLogsServiceRequest) -> Recognized {
    let recognized = recognize(request);

    // A log export yields no event by itself: each exception report waits in the batch for the
    // store to join it. Every record is ignored, rejected or such a report.
    assert!(recognized.events.is_empty(), "a log export yielded events");
    assert!(recognized.spans_by_source.is_empty());
    assert!(recognized.joins.events.is_empty() && recognized.joins.joined.is_empty());
    let errors = &recognized.joins.errors;
    assert_eq!(
        recognized.ignored + recognized.rejected.len() as u64 + errors.len() as u64,
        record_count(request),
        "each log record counted once"
    );
    check_reasons(&recognized.rejected, "log record with span_id ");
    for logged in errors {
        assert_eq!(logged.observed_at, observed());
        assert!(
            logged.at.trace_id.iter().any(|b| *b != 0),
            "an all-zero trace id"
        );
        assert!(
            logged.at.span_id.iter().any(|b| *b != 0),
            "an all-zero span id"
        );
        check_report(&logged.report);
    }

    assert_same(&recognized, &recognize(request), "a second recognition");

    let mut local = local_recognizer();
    let alone = local.logs(request, observed());
    assert!(alone.events.is_empty(), "a report joined a run never seen");
    assert_eq!(alone.rejected, recognized.rejected);
    assert_eq!(alone.ignored, recognized.ignored);

    check_joins(request, &recognized);
    recognized
}

/// A failed Celery run span at `at`, for the reports logged in it to join.
fn partner(at: SpanRef) -> Span {
    let text = |key: &str, value: String| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value)),
        }),
        ..Default::default()
    };
    Span {
        trace_id: at.trace_id.to_vec(),
        span_id: at.span_id.to_vec(),
        name: "run/fuzz".to_owned(),
        kind: SpanKind::Consumer as i32,
        start_time_unix_nano: 1_790_000_000_000_000_000,
        end_time_unix_nano: 1_790_000_000_000_001_000,
        attributes: vec![
            text("celery.action", "run".to_owned()),
            text("celery.task_name", "fuzz".to_owned()),
            text("celery.state", "FAILURE".to_owned()),
            text("messaging.message.id", task_id(at)),
        ],
        status: Some(Status {
            message: "partner failed".to_owned(),
            code: StatusCode::Error as i32,
        }),
        ..Default::default()
    }
}

fn task_id(at: SpanRef) -> String {
    format!("{}{}", hex::encode(at.trace_id), hex::encode(at.span_id))
}

/// The reports meet their run spans, whichever arrives first: the same runs are stored either
/// way (waiting reports are folded with the store's merge rule), and a second delivery of the
/// logs changes nothing.
fn check_joins(request: &ExportLogsServiceRequest, recognized: &Recognized) {
    let spans: BTreeSet<SpanRef> = recognized.joins.errors.iter().map(|e| e.at).collect();
    // Beyond this many the oldest waiting reports are forgotten, by design.
    if spans.is_empty() || spans.len() > WAITING_ERRORS_MAX {
        return;
    }
    let partners = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: spans.iter().copied().map(partner).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let errors = recognized.joins.errors.len();

    // Logs first: the reports wait, folded per span, until their run span comes.
    let mut logs_first = local_recognizer();
    let early = logs_first.logs(request, observed());
    let runs = logs_first.traces(&partners, observed());
    assert!(
        runs.rejected.is_empty(),
        "a partner span rejected: {:?}",
        runs.rejected
    );
    assert_eq!(
        runs.events.len(),
        2 * spans.len(),
        "a run event and one folded error event per span"
    );

    // Runs first: each report joins at once.
    let mut runs_first = local_recognizer();
    let first_runs = runs_first.traces(&partners, observed());
    let reports = runs_first.logs(request, observed());
    assert_eq!(reports.events.len(), errors, "one error event per report");
    for event in &reports.events {
        check_event(event);
        let run = &event.run;
        assert_eq!(
            run.status,
            TaskStatus::Pending,
            "an error event moved a status"
        );
        assert_eq!(run.source, SourceSystem::Celery);
        assert_eq!(run.task_name, "fuzz");
        assert!(
            spans.iter().any(|at| task_id(*at) == run.task_id),
            "an error event joined no partner"
        );
    }
    for event in &runs.events {
        check_event(event);
    }

    let waited = stored(early.events.into_iter().chain(runs.events));
    let joined = stored(
        first_runs
            .events
            .iter()
            .cloned()
            .chain(reports.events.clone()),
    );
    assert_eq!(waited, joined, "the stored runs depend on which came first");

    let again = runs_first.logs(request, observed());
    let twice = stored(
        first_runs
            .events
            .into_iter()
            .chain(reports.events)
            .chain(again.events),
    );
    assert_eq!(
        joined, twice,
        "a second delivery of the logs changed the stored runs"
    );
}
