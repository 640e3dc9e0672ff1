//! The flags the subcommands share: the database, the collector's options, retention.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use tasklens_collector::CollectorConfig;
use tasklens_collector::pipeline::PipelineConfig;
use tasklens_store::{PgStore, PgStoreOptions, RetentionPolicy, redact_url};

#[derive(Debug, Args)]
pub struct CollectorArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub options: CollectorOptions,
}

/// The collector's flags other than the database (shared with `tasklens up`).
#[derive(Debug, Args)]
pub struct CollectorOptions {
    /// Address for OTLP/gRPC (TraceService, LogsService).
    #[arg(
        long,
        env = "TASKLENS_OTLP_GRPC_ADDR",
        default_value = "127.0.0.1:4317"
    )]
    pub otlp_grpc_addr: SocketAddr,
    /// Address for OTLP/HTTP (POST /v1/traces, /v1/logs; protobuf or JSON; gzip).
    #[arg(
        long,
        env = "TASKLENS_OTLP_HTTP_ADDR",
        default_value = "127.0.0.1:4318"
    )]
    pub otlp_http_addr: SocketAddr,
    /// Address for the collector's own /healthz, /readyz and Prometheus /metrics.
    #[arg(
        long,
        env = "TASKLENS_COLLECTOR_ADMIN_ADDR",
        default_value = "127.0.0.1:4319"
    )]
    pub admin_addr: SocketAddr,
    /// Bearer token senders must present (Authorization header or gRPC metadata). Unset: no
    /// token needed.
    #[arg(long, env = "TASKLENS_OTLP_TOKEN", hide_env_values = true)]
    pub otlp_token: Option<String>,
    /// Largest request accepted, in bytes, compressed and after decompression.
    #[arg(long, env = "TASKLENS_MAX_REQUEST_BYTES", default_value_t = 64 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024))]
    pub max_request_bytes: u64,
    /// A batch is written when it holds this many task-run events...
    #[arg(long, env = "TASKLENS_BATCH_MAX_EVENTS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_max_events: u64,
    /// ...or when its first event has waited this many milliseconds for more (0: a free writer
    /// takes what is queued at once; under load batches grow while the writers are busy).
    #[arg(long, env = "TASKLENS_BATCH_MAX_DELAY_MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub batch_max_delay_ms: u64,
    /// Batches written at once (each its own transaction), so a batch does not wait for the
    /// one before it to commit.
    #[arg(long, env = "TASKLENS_BATCH_WRITERS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=16))]
    pub batch_writers: u64,
    /// Events accepted but not yet committed, at most; beyond it senders are told to retry.
    #[arg(long, env = "TASKLENS_QUEUE_CAPACITY", default_value_t = 32_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub queue_capacity: u64,
    /// Requests read and decoded at once (gRPC and HTTP together); a request beyond it is told
    /// to retry before its body is read, so overload costs neither memory nor decoding.
    #[arg(long, env = "TASKLENS_INGEST_CONCURRENCY",
          default_value_t = tasklens_collector::ingest::DEFAULT_INGEST_CONCURRENCY as u64,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub ingest_concurrency: u64,
    /// Comma-separated key patterns whose values are redacted from params, error messages and
    /// tracebacks (case-insensitive substrings, `-` matching `_`).
    #[arg(
        long,
        env = "TASKLENS_SECRET_KEYS",
        value_delimiter = ',',
        default_value = "password,passwd,secret,token,api_key,apikey,authorization,credential,private_key,cookie,session"
    )]
    pub secret_keys: Vec<String>,
    /// Days of runs to keep.
    #[arg(long, env = "TASKLENS_RETENTION_DAYS", default_value_t = RetentionPolicy::DEFAULT_RETENTION_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retention_days: u32,
    /// Seconds between maintenance runs (retention and upcoming partitions).
    #[arg(long, env = "TASKLENS_MAINTENANCE_INTERVAL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub maintenance_interval_secs: u64,
}

impl CollectorOptions {
    pub(crate) fn config(&self) -> CollectorConfig {
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        CollectorConfig {
            grpc_addr: self.otlp_grpc_addr,
            http_addr: self.otlp_http_addr,
            admin_addr: self.admin_addr,
            max_request_bytes: to_usize(self.max_request_bytes),
            pipeline: PipelineConfig {
                batch_max_events: to_usize(self.batch_max_events),
                batch_max_delay: Duration::from_millis(self.batch_max_delay_ms),
                batch_writers: to_usize(self.batch_writers),
                queue_capacity: to_usize(self.queue_capacity),
            },
            token: self.otlp_token.clone(),
            secret_keys: self.secret_keys.clone(),
            retention_days: self.retention_days,
            maintenance_interval: Duration::from_secs(self.maintenance_interval_secs),
            ingest_concurrency: to_usize(self.ingest_concurrency),
            ..CollectorConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://user:password@host:5432/tasklens. Falls back to
    /// DATABASE_URL when TASKLENS_DATABASE_URL is not set.
    #[arg(
        long,
        env = "TASKLENS_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Days of runs to keep; older whole days are dropped.
    #[arg(
        long,
        env = "TASKLENS_RETENTION_DAYS",
        default_value_t = RetentionPolicy::DEFAULT_RETENTION_DAYS,
        value_parser = clap::value_parser!(u32).range(1..=3650),
    )]
    pub retention_days: u32,
}

impl DatabaseArgs {
    /// The URL from the flag, TASKLENS_DATABASE_URL or DATABASE_URL, in that order.
    pub fn url(&self) -> Result<String> {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "no database given: pass --database-url or set TASKLENS_DATABASE_URL \
                     (or DATABASE_URL) to postgres://user:password@host:5432/database"
                )
            })
    }

    pub(crate) async fn connect(&self) -> Result<PgStore> {
        let url = self.url()?;
        self.connect_to(&url).await
    }

    pub(crate) async fn connect_to(&self, url: &str) -> Result<PgStore> {
        PgStore::connect(url, &PgStoreOptions::default())
            .await
            .with_context(|| {
                format!(
                    "database {} is not usable; fix --database-url / TASKLENS_DATABASE_URL",
                    redact_url(url)
                )
            })
    }
}
