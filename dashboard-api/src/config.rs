//! Everything the dashboard API can be told.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tasklens_model::StuckThresholds;

/// Settings of one API server.
#[derive(Clone)]
pub struct ApiConfig {
    pub http_addr: SocketAddr,
    /// Bearer token required on REST and WebSocket; `None` (or blank): no token needed.
    pub token: Option<String>,
    /// Origins allowed by CORS (`*` for any); empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// Longest a REST request may take (not applied to WebSockets).
    pub request_timeout: Duration,
    /// The built page (`ui/dist`); `None` or missing: `/` says how to build it.
    pub ui_dir: Option<PathBuf>,
    /// Messages queued for one WebSocket client at most; beyond it the client is told to resync.
    pub ws_client_buffer: usize,
    /// How often a WebSocket client is pinged; one that answers nothing for two intervals is
    /// dropped.
    pub ws_ping_interval: Duration,
    /// How long a read answer (metrics, history, timeseries, task names) may be shared between
    /// requests asking the same question; zero: every request asks the store. Capped at 1 s.
    pub read_cache_max_age: Duration,
    /// The process's Prometheus recorder, when another part of the process (the collector)
    /// installed it; `None`: the API installs one (once per process).
    pub prometheus: Option<PrometheusHandle>,
    /// When an unfinished run counts as stuck (`--stuck-threshold` rules, learned defaults).
    pub stuck_thresholds: StuckThresholds,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("http_addr", &self.http_addr)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("cors_origins", &self.cors_origins)
            .field("request_timeout", &self.request_timeout)
            .field("ui_dir", &self.ui_dir)
            .field("ws_client_buffer", &self.ws_client_buffer)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .field("read_cache_max_age", &self.read_cache_max_age)
            .field("prometheus", &self.prometheus.is_some())
            .field("stuck_thresholds", &self.stuck_thresholds)
            .finish()
    }
}

impl ApiConfig {
    pub const DEFAULT_WS_CLIENT_BUFFER: usize = 1024;
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

    /// `ui/dist` when it exists in the working directory.
    pub fn default_ui_dir() -> Option<PathBuf> {
        let dir = PathBuf::from("ui/dist");
        dir.is_dir().then_some(dir)
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            cors_origins: Vec::new(),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            ui_dir: None,
            ws_client_buffer: Self::DEFAULT_WS_CLIENT_BUFFER,
            ws_ping_interval: Duration::from_secs(30),
            read_cache_max_age: crate::read_cache::ReadCache::DEFAULT_MAX_AGE,
            prometheus: None,
            stuck_thresholds: StuckThresholds::default(),
        }
    }
}
