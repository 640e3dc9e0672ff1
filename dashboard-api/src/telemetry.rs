//! The API's own metrics (Prometheus names `tasklens_api_*`).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The recorder to render: the one the caller shares (the collector's, in one process), or one
/// installed once per process by the API.
pub fn prometheus(shared: Option<PrometheusHandle>) -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = shared {
        return handle;
    }
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only when another recorder is installed: then pass its handle in the config.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder is already installed; pass its handle in ApiConfig::prometheus"
                );
            }
            handle
        })
        .clone()
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
