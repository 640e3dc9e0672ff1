//! The collector's own metrics (Prometheus names `tasklens_collector_*`).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tasklens_model::SourceSystem;

/// The process-wide recorder (installed once; several collectors in one test process share it).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours just renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

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
