//! The process-wide Prometheus recorder every service renders on `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram bucket bounds of every service's histograms.
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide recorder, installed at the first call: the services in one process (and
/// several of them in one test process) share it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only when another recorder is installed: metrics then go to that one.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a metrics recorder is already installed; pass its handle to the service to render it"
            );
        }
        handle
    })
}
