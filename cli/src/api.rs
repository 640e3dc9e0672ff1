//! `tasklens api`: the dashboard API (REST, WebSocket live feed, the built page).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::{StuckRule, StuckThresholds};

use crate::options::DatabaseArgs;
use crate::shutdown::shutdown_signal;

#[derive(Debug, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub options: ApiOptions,
}

/// The API's flags other than the database (shared with `tasklens up`).
#[derive(Debug, Args)]
pub struct ApiOptions {
    /// Address for the dashboard API and page.
    #[arg(long, env = "TASKLENS_API_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Bearer token required on the REST API and the WebSocket (`Authorization: Bearer`, or
    /// `?token=` on the WebSocket). Unset: no token needed. /healthz, /readyz, /metrics and the
    /// page's files never need it.
    #[arg(long, env = "TASKLENS_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Comma-separated origins allowed to call the API from a browser (CORS), or `*`. Unset:
    /// same origin only.
    #[arg(long, env = "TASKLENS_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds a REST request may take before it is answered 503 (not applied to WebSockets).
    #[arg(long, env = "TASKLENS_API_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// Directory of the built page (index.html and assets). Default: ui/dist when it exists.
    #[arg(long, env = "TASKLENS_UI_DIR", value_name = "DIR")]
    pub ui_dir: Option<PathBuf>,
    /// Live messages queued per WebSocket client at most; a client that falls further behind is
    /// told to resync.
    #[arg(long, env = "TASKLENS_WS_CLIENT_BUFFER", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub ws_client_buffer: u64,
    /// Milliseconds a read answer (metrics, history, timeseries, task names) is shared between
    /// requests asking the same question, so many open pages cost one query; 0 turns this off.
    /// At most 1000: the page refetches one second after a change.
    #[arg(long, env = "TASKLENS_API_READ_CACHE_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub read_cache_ms: u64,
    /// When an unfinished run of a task type counts as stuck: `PATTERN=DURATION`, a glob over
    /// task names and a duration (e.g. 'scheduled_*=15m', 'score_message=30s'); repeatable
    /// (comma-separated in the environment), the first match wins. Types no rule matches: 5
    /// times their p99 over the last 7 days (duration when running, queue wait when pending),
    /// at least 5 minutes.
    #[arg(
        long = "stuck-threshold",
        env = "TASKLENS_STUCK_THRESHOLDS",
        value_delimiter = ',',
        value_name = "PATTERN=DURATION"
    )]
    pub stuck_thresholds: Vec<StuckRule>,
}

impl ApiOptions {
    pub(crate) fn config(&self) -> ApiConfig {
        ApiConfig {
            http_addr: self.http_addr,
            token: self.api_token.clone(),
            cors_origins: self.cors_origins.clone(),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            ui_dir: self.ui_dir.clone().or_else(ApiConfig::default_ui_dir),
            ws_client_buffer: usize::try_from(self.ws_client_buffer).unwrap_or(usize::MAX),
            read_cache_max_age: Duration::from_millis(self.read_cache_ms),
            stuck_thresholds: StuckThresholds::new(self.stuck_thresholds.clone()),
            // One Prometheus recorder per process, shared with the collector's when both run.
            prometheus: Some(tasklens_collector::telemetry::prometheus().clone()),
            ..ApiConfig::default()
        }
    }
}

pub(crate) async fn run(args: ApiArgs, out: &mut impl std::io::Write) -> Result<()> {
    let store = args.database.connect().await?;
    store.migrate().await.context("migrations failed")?;
    let config = args.options.config();
    let page = match &config.ui_dir {
        Some(dir) => format!("the page from {}", dir.display()),
        None => "no page (build it with `npm --prefix ui run build`)".to_owned(),
    };
    let api = tasklens_dashboard_api::start(config, Arc::new(store))
        .await
        .context("the dashboard API cannot start")?;
    writeln!(
        out,
        "dashboard API ready on http://{addr} ({page}; REST under /api/v1/monitoring/, OpenAPI at /api/openapi.json, health and metrics at /healthz, /readyz, /metrics)",
        addr = api.addr
    )?;
    out.flush()?;
    let stopper = api.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing live connections");
        let _ = stopper.send(true);
    });
    api.wait().await.context("the dashboard API failed")?;
    writeln!(out, "dashboard API stopped")?;
    Ok(())
}
