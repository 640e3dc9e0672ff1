//! The API's own metrics (Prometheus names `tasklens_api_*`).

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

/// The recorder to render: the one the caller shares (installed elsewhere in the process), or
/// the process-wide one every tasklens service shares.
pub fn prometheus(shared: Option<PrometheusHandle>) -> PrometheusHandle {
    shared.unwrap_or_else(|| tasklens_service::telemetry::prometheus().clone())
}

pub fn request(route: &str, status: u16, elapsed: Duration) {
    metrics::counter!(
        "tasklens_api_requests_total",
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("tasklens_api_request_duration_seconds", "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

/// A read answer that was shared (`hit`) or asked of the store (`miss`).
pub fn read_cache(endpoint: &'static str, shared: bool) {
    let outcome = if shared { "hit" } else { "miss" };
    metrics::counter!("tasklens_api_read_cache_total", "endpoint" => endpoint, "outcome" => outcome)
        .increment(1);
}

pub fn websocket_clients(count: usize) {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!("tasklens_api_websocket_clients").set(count as f64);
}

pub fn websocket_resync(reason: &'static str) {
    metrics::counter!("tasklens_api_websocket_resyncs_total", "reason" => reason).increment(1);
}
