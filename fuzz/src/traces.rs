//! `otlp_traces`: bytes as an `ExportTraceServiceRequest`, protobuf and OTLP/JSON.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tasklens_collector::otlp_json;
use tasklens_collector::recognize::Recognized;
use tasklens_store::joins::MemoryJoins;

use super::*;

/// Decodes `bytes` both ways and checks the recognition of whatever decodes.
pub fn traces(bytes: &[u8]) {
    if let Ok(request) = ExportTraceServiceRequest::decode(bytes) {
        let recognized = check(&request);
        let again = reencoded(&request, "a trace export");
        assert_same(&recognized, &recognize(&again), "re-encoded protobuf");
    }
    if let Ok(request) = otlp_json::decode::<ExportTraceServiceRequest>(bytes) {
        let recognized = check(&request);
        // The receivers treat both encodings alike: the same request as protobuf is the same.
        let protobuf = reencoded(&request, "a JSON trace export");
        assert_same(
            &recognized,
            &recognize(&protobuf),
            "the JSON export as protobuf",
        );
    }
}

fn recognize(request: &ExportTraceServiceRequest) -> Recognized {
    collector_recognizer().traces(request, observed())
}

fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    spans as u64
}

/// The collector's recognition of a decoded export, checked; returned for comparisons.
fn check(request: &ExportTraceServiceRequest) -> Recognized {
    let recognized = recognize(request);

    // Every span counted once: claimed by a source or ignored; a claimed one yields one event
    // or one reason (`recognize/mod.rs`).
    let claimed: u64 = recognized.spans_by_source.values().sum();
    assert_eq!(
        claimed + recognized.ignored,
        span_count(request),
        "each span counted once"
    );
    let yielded = recognized.events.len() + recognized.joins.joined.len();
    assert_eq!(
        (yielded + recognized.rejected.len()) as u64,
        claimed,
        "a claimed span yields one event or one reason"
    );
    assert!(recognized.joins.events.is_empty() && recognized.joins.errors.is_empty());
    check_reasons(&recognized.rejected, "span ");

    for event in &recognized.events {
        check_event(event);
    }
    for joined in &recognized.joins.joined {
        check_event(&joined.event);
        let needs =
            joined.keyed_by.is_some() || joined.run_at.is_some() || joined.retry_of.is_some();
        assert!(needs, "an event left to the store that needs no join");
    }

    assert_same(&recognized, &recognize(request), "a second recognition");

    // The store's join rule over the queued batch gives what a recognizer resolving its own
    // joins gives (`recognize/join.rs`: "Both run the same rule").
    let mut local = local_recognizer();
    let first = local.traces(request, observed());
    assert!(first.joins.is_empty(), "a local recognizer left joins");
    assert_eq!(first.rejected, recognized.rejected);
    assert_eq!(first.ignored, recognized.ignored);
    assert_eq!(first.spans_by_source, recognized.spans_by_source);
    let resolved = MemoryJoins::new(JOIN_CAPACITY).resolve(queued(&recognized));
    assert_eq!(
        sorted(&resolved),
        sorted(&first.events),
        "the store's resolution and the local one differ"
    );
    for event in &resolved {
        check_event(event);
    }

    // A sender that retries delivers the export again: the runs stored do not change (every
    // event merges idempotently, and the joins the first delivery recorded give the same keys).
    let once = stored(first.events.iter().cloned());
    let again = local.traces(request, observed());
    for event in &again.events {
        check_event(event);
    }
    let twice = stored(first.events.into_iter().chain(again.events));
    assert_eq!(once, twice, "a second delivery changed the stored runs");

    recognized
}
