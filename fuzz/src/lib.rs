//! What the fuzz targets check, in a library so that `cargo test` replays the seeds and the
//! regression inputs through the very same code, without libFuzzer.
//!
//! Bytes go where the OTLP receivers send them: protobuf through prost (`grpc.rs`, and
//! `http.rs` for `application/x-protobuf`), JSON through the collector's own
//! [`tasklens_collector::otlp_json::decode`] (`http.rs` for `application/json`). Whatever decodes
//! is recognized as `ingest.rs` does it, with a `Recognizer::joining_in_store` (the collector's),
//! and the batch `ingest.rs` queues is resolved with the store's in-memory join rule
//! ([`MemoryJoins`], the embedded store's, and the rule PostgreSQL runs too): everything but the
//! database. A broken invariant panics, which is what libFuzzer reports.

mod logs;
mod traces;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use prost::Message;
use tasklens_collector::recognize::{Recognized, Recognizer};
use tasklens_model::limits::{MAX_NAME_BYTES, MAX_TEXT_BYTES};
use tasklens_model::{Redactor, RunKey, RunState, TaskRunEvent, TaskStatus};
use tasklens_store::joins::JoinBatch;

pub use logs::logs;
pub use traces::traces;

/// Joins remembered: more than one input can hold, so nothing is forgotten within an input
/// (forgetting the oldest is the designed answer to floods, not something to check here).
const JOIN_CAPACITY: usize = 1 << 20;

/// A reason is built from a short span label, previews and capped fields: a huge span must not
/// be echoed back whole in `partial_success`.
const MAX_REASON_BYTES: usize = 16 * 1024;

/// The observation time of every recognition: whole microseconds, the store's precision, so
/// `prepare()` keeps it as it is.
fn observed() -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_100, 123_456_000)
        .single()
        .unwrap_or_default()
}

/// The collector's recognizer (`server.rs`): joins left to the store, default secret keys.
fn collector_recognizer() -> Recognizer {
    Recognizer::joining_in_store(Redactor::default())
}

/// A recognizer that resolves its joins itself, as the fixture replays and tests use it.
fn local_recognizer() -> Recognizer {
    Recognizer::new(Redactor::default(), JOIN_CAPACITY)
}

/// What `Ingest::submit` queues for the store: the joins, then the plain events.
fn queued(recognized: &Recognized) -> JoinBatch {
    let mut batch = recognized.joins.clone();
    batch.events.extend(recognized.events.iter().cloned());
    batch
}

/// A request that decoded re-encodes to bytes that decode to the same request. Compared by
/// their encodings: a NaN double attribute is not equal to itself.
fn reencoded<T: Message + Default>(request: &T, what: &str) -> T {
    let bytes = request.encode_to_vec();
    let again = T::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("{what}: the protobuf encoding does not decode: {e}"));
    assert!(
        again.encode_to_vec() == bytes,
        "{what}: decodes to another request"
    );
    again
}

/// Two recognitions of the same export give the same result.
fn assert_same(a: &Recognized, b: &Recognized, what: &str) {
    assert_eq!(a.events, b.events, "{what}: events differ");
    assert_eq!(a.joins, b.joins, "{what}: joins differ");
    assert_eq!(a.rejected, b.rejected, "{what}: rejections differ");
    assert_eq!(a.ignored, b.ignored, "{what}: ignored counts differ");
    assert_eq!(
        a.spans_by_source, b.spans_by_source,
        "{what}: counts per source differ"
    );
}

/// Every reason names what it refuses and stays short.
fn check_reasons(rejected: &[String], prefix: &str) {
    for reason in rejected {
        assert!(
            reason.starts_with(prefix),
            "a reason not naming its item: {reason:?}"
        );
        assert!(
            reason.len() <= MAX_REASON_BYTES,
            "a reason of {} bytes",
            reason.len()
        );
    }
}

/// An event the recognizer returns has passed `TaskRunEvent::prepare`: preparing it again
/// changes nothing. The consequences the store and the UI rely on are asserted one by one, so a
/// failure says which.
fn check_event(event: &TaskRunEvent) {
    check_prepared(event);
    assert_eq!(event.observed_at, observed(), "observation time changed");
}

fn check_prepared(event: &TaskRunEvent) {
    let run = &event.run;
    assert_eq!(
        event.clone().prepare().as_ref(),
        Ok(event),
        "an event that prepare() changes or refuses"
    );
    for (field, value) in [("task_name", &run.task_name), ("task_id", &run.task_id)] {
        assert!(!value.trim().is_empty(), "blank {field}");
        assert!(
            value.len() <= MAX_NAME_BYTES,
            "{field} of {} bytes",
            value.len()
        );
    }
    assert!(run.attempt >= 0, "attempt {}", run.attempt);
    let short = [
        &run.queue,
        &run.service_name,
        &run.worker_host,
        &run.error_type,
    ];
    for value in short.into_iter().flatten() {
        assert!(
            value.len() <= MAX_NAME_BYTES,
            "a name of {} bytes",
            value.len()
        );
    }
    for value in [&run.error_message, &run.error_traceback]
        .into_iter()
        .flatten()
    {
        assert!(
            value.len() <= MAX_TEXT_BYTES,
            "a text of {} bytes",
            value.len()
        );
    }
    let texts = [&run.task_name, &run.task_id]
        .into_iter()
        .chain(short.into_iter().flatten())
        .chain(
            [&run.error_message, &run.error_traceback]
                .into_iter()
                .flatten(),
        );
    for text in texts {
        // PostgreSQL stores no NUL in text.
        assert!(!text.contains('\0'), "a NUL in {text:?}");
    }
    if run.status == TaskStatus::Failed {
        assert!(
            run.error_message
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty()),
            "a failed run without an error message"
        );
    }
    if let Some(id) = run.trace_id {
        assert!(id.iter().any(|b| *b != 0), "an all-zero trace id");
    }
    if let Some(id) = run.span_id {
        assert!(id.iter().any(|b| *b != 0), "an all-zero span id");
    }
}

/// Events as the store would keep them (`merge_incoming`): each prepared, a refused one being a
/// failure here, then merged per run.
fn stored(events: impl IntoIterator<Item = TaskRunEvent>) -> BTreeMap<RunKey, RunState> {
    let mut runs: BTreeMap<RunKey, RunState> = BTreeMap::new();
    for event in events {
        let event = event
            .prepare()
            .unwrap_or_else(|violation| panic!("the store would refuse an event: {violation}"));
        let key = event.run.key();
        let merged = match runs.remove(&key) {
            Some(state) => state.merge(event.run),
            None => event.run,
        };
        runs.insert(key, merged);
    }
    runs
}

/// Events in an order of their own, to compare two lists that may differ only in order.
fn sorted(events: &[TaskRunEvent]) -> Vec<String> {
    let mut shown: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
    shown.sort_unstable();
    shown
}
