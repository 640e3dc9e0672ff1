//! The collector's own metrics (Prometheus names `tasklens_collector_*`).

use std::time::Duration;

use tasklens_model::SourceSystem;

/// The process-wide recorder, shared with every service in the process.
pub use tasklens_service::telemetry::prometheus;

pub fn spans_received(source: SourceSystem, n: u64) {
    metrics::counter!("tasklens_collector_spans_received_total", "source" => source.as_str())
        .increment(n);
}

pub fn spans_ignored(n: u64) {
    metrics::counter!("tasklens_collector_spans_ignored_total").increment(n);
}

pub fn spans_rejected(n: u64) {
    metrics::counter!("tasklens_collector_spans_rejected_total").increment(n);
}

/// A request refused, by reason (`unauthenticated`, `queue_full`, `busy`, `unavailable`,
/// `too_large`, `malformed`, `unsupported_media_type`, `failed`).
pub fn request_refused(reason: &'static str) {
    metrics::counter!("tasklens_collector_requests_refused_total", "reason" => reason).increment(1);
}

pub fn batch_committed(events: usize, runs_written: usize, commit: Duration) {
    metrics::counter!("tasklens_collector_task_runs_written_total").increment(runs_written as u64);
    #[allow(clippy::cast_precision_loss)]
    metrics::histogram!("tasklens_collector_batch_events").record(events as f64);
    metrics::histogram!("tasklens_collector_commit_seconds").record(commit.as_secs_f64());
}

/// Pages of waiting free-text index entries folded off the write path.
pub fn search_backlog_folded(pages: u64) {
    metrics::counter!("tasklens_collector_search_backlog_pages_folded_total").increment(pages);
}

pub fn queue_depth(events: usize) {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!("tasklens_collector_queue_events").set(events as f64);
}
