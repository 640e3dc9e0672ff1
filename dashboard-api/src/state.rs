//! What every handler shares. Kept apart from `server` (which builds it and mounts the
//! handlers) so that handlers depend on it without depending on the server.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tasklens_model::StuckThresholds;
use tasklens_store::TaskStore;
use tokio::sync::{mpsc, watch};

use crate::live::hub::LiveHub;
use crate::read_cache::ReadCache;
use tasklens_service::TokenCheck;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn TaskStore>,
    pub hub: Arc<LiveHub>,
    /// Read answers shared between requests asking the same question.
    pub read_cache: Arc<ReadCache>,
    pub token: TokenCheck,
    pub prometheus: PrometheusHandle,
    /// Turns true on shutdown.
    pub stop: watch::Receiver<bool>,
    pub ws_ping_interval: Duration,
    /// Held by every WebSocket task: shutdown waits until all are dropped.
    pub ws_alive: mpsc::Sender<()>,
    /// When an unfinished run counts as stuck.
    pub stuck_thresholds: Arc<StuckThresholds>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("token", &self.token)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .finish_non_exhaustive()
    }
}
