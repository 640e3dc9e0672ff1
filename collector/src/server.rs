//! Starting and stopping the collector: bind every address first (port 0 works, for tests),
//! then serve until shutdown; on shutdown stop accepting, commit what was accepted, answer
//! those senders, then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tasklens_model::Redactor;
use tasklens_service::{RunningServer, TokenCheck, bind, stopped};
use tasklens_store::TaskStore;
use tokio::sync::{Notify, watch};
use tower::util::MapResponseLayer;

use crate::ingest::Ingest;
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::recognize::Recognizer;
use crate::{admin, grpc, http, retention, search_backlog, telemetry};

/// Everything the collector can be told.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// `/healthz`, `/readyz`, `/metrics`.
    pub admin_addr: SocketAddr,
    /// Largest request, compressed or not.
    pub max_request_bytes: usize,
    pub pipeline: PipelineConfig,
    pub token: Option<String>,
    /// Keys matching these (case-insensitive substrings) are redacted: in params, and in error
    /// messages and tracebacks, which also lose URL passwords and bearer tokens.
    pub secret_keys: Vec<String>,
    /// Told to senders when the database is unavailable.
    pub retry_after: Duration,
    /// Requests read and decoded at once, both transports together; more are told to retry.
    pub ingest_concurrency: usize,
    pub retention_days: u32,
    pub maintenance_interval: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 4319)),
            max_request_bytes: 64 * 1024 * 1024,
            pipeline: PipelineConfig::default(),
            token: None,
            secret_keys: tasklens_model::conventions::DEFAULT_SECRET_KEYS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            retry_after: Duration::from_secs(5),
            ingest_concurrency: crate::ingest::DEFAULT_INGEST_CONCURRENCY,
            retention_days: 30,
            maintenance_interval: retention::DEFAULT_INTERVAL,
        }
    }
}

/// Where a collector listens (the real ports when port 0 was asked for).
#[derive(Debug, Clone, Copy)]
pub struct CollectorAddrs {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub admin_addr: SocketAddr,
}

/// A collector that is serving. Its graceful shutdown stops accepting, commits and answers what
/// was accepted, then returns.
pub type RunningCollector = RunningServer<CollectorAddrs>;

/// Binds the three addresses and starts serving.
pub async fn start(
    config: CollectorConfig,
    store: Arc<dyn TaskStore>,
) -> std::io::Result<RunningCollector> {
    let (grpc_listener, grpc_addr) = bind("OTLP/gRPC", config.grpc_addr).await?;
    let (http_listener, http_addr) = bind("OTLP/HTTP", config.http_addr).await?;
    let (admin_listener, admin_addr) = bind("health and metrics", config.admin_addr).await?;
    let _ = telemetry::prometheus();

    let committed = Arc::new(Notify::new());
    let (pipeline, batcher) =
        Pipeline::start(store.clone(), config.pipeline.clone(), committed.clone());
    let queue = pipeline.gauge();
    let redactor = Redactor::new(config.secret_keys.iter().map(String::as_str));
    let ingest = Arc::new(Ingest::new(
        Recognizer::joining_in_store(redactor),
        pipeline,
        TokenCheck::new(config.token.as_deref()),
        config.retry_after,
        config.ingest_concurrency,
    ));
    let (stop, stop_rx) = watch::channel(false);

    let grpc_server = tonic::transport::Server::builder()
        .layer(MapResponseLayer::new(grpc::too_large_is_resource_exhausted))
        .add_routes(grpc::routes(ingest.clone(), config.max_request_bytes))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(grpc_listener),
            stopped(stop_rx.clone()),
        );
    let http_server = axum::serve(
        http_listener,
        http::router(ingest.clone(), config.max_request_bytes),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()));
    let admin_server = axum::serve(admin_listener, admin::router(store.clone(), queue))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let folder = tokio::spawn(search_backlog::run_folder(
        store.clone(),
        committed,
        stopped(stop_rx.clone()),
    ));
    let schedule = tokio::spawn(retention::run_schedule(
        store,
        config.retention_days,
        config.maintenance_interval,
        stopped(stop_rx),
    ));
    drop(ingest);

    let serving = async move {
        let (grpc, http, admin) = tokio::join!(
            async { grpc_server.await.map_err(std::io::Error::other) },
            http_server.into_future(),
            admin_server.into_future(),
        );
        // The servers held the last pipeline handles: with them gone the batcher drains the
        // queue, commits and answers, then ends.
        let _ = batcher.await;
        let _ = schedule.await;
        let _ = folder.await;
        grpc.and(http).and(admin)
    };
    let addrs = CollectorAddrs {
        grpc_addr,
        http_addr,
        admin_addr,
    };
    let running = RunningServer::spawn(addrs, stop, serving);
    tracing::info!(%grpc_addr, %http_addr, %admin_addr, "collector listening");
    Ok(running)
}
