//! The `tasklens` command: argument parsing and the subcommands, as a library so end-to-end
//! tests can drive it in-process. `main.rs` only maps the result to an exit code.

mod api;
mod demo;
mod up;

use std::ffi::OsString;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use tasklens_collector::CollectorConfig;
use tasklens_collector::pipeline::PipelineConfig;
use tasklens_store::{PgStore, PgStoreOptions, RetentionPolicy, TaskStore, redact_url};

/// tasklens: every run of every background task, live. One binary for every part.
#[derive(Debug, Parser)]
#[command(name = "tasklens", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the database schema, and the partitions of the coming days. Creates the
    /// database itself when the server says it does not exist.
    Migrate(DatabaseArgs),
    /// Remove runs older than the retention period now, by dropping whole days, and create the
    /// coming days' partitions. The collector service also does this every hour.
    Retention(RetentionArgs),
    /// Receive OpenTelemetry traces and logs (OTLP over gRPC and HTTP), recognise task runs and
    /// write them to the database. Also runs retention hourly.
    Collector(CollectorArgs),
    /// Serve the dashboard: the REST API and live WebSocket feed over the database, and the
    /// built page at /. Stops gracefully on SIGTERM/Ctrl-C.
    Api(api::ApiArgs),
    /// Run a demo worker: the ten task types of the original application at a steady rate, with
    /// realistic params and durations, some failures and retries, sent over OTLP to a collector.
    Demo(demo::DemoArgs),
    /// Try tasklens with one command: the collector, the dashboard API and the page in one
    /// process, on an embedded SQLite database in --data-dir unless --database-url names a
    /// PostgreSQL server. --demo also runs the demo worker so the page is alive at once.
    Up(up::UpArgs),
}

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
    /// Comma-separated parameter key patterns to redact (case-insensitive substrings).
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
    fn config(&self) -> CollectorConfig {
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

    async fn connect(&self) -> Result<PgStore> {
        let url = self.url()?;
        self.connect_to(&url).await
    }

    async fn connect_to(&self, url: &str) -> Result<PgStore> {
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

/// Parses `args` (the first is the program name) and runs the command; what it prints goes to
/// `out`.
pub async fn run<I, T>(args: I, out: &mut impl std::io::Write) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    match cli.command {
        Command::Migrate(db) => {
            let url = db.url()?;
            if PgStore::create_database_if_missing(&url)
                .await
                .context("creating the database failed")?
            {
                writeln!(out, "created database {}", redact_url(&url))?;
            }
            let store = db.connect_to(&url).await?;
            store.migrate().await.context("migrations failed")?;
            let report = store
                .maintain(&RetentionPolicy::new(
                    RetentionPolicy::DEFAULT_RETENTION_DAYS,
                ))
                .await
                .context("creating partitions failed")?;
            writeln!(
                out,
                "schema up to date; partitions created: {}",
                list(&report.partitions_created)
            )?;
        }
        Command::Retention(args) => {
            let store = args.database.connect().await?;
            let report = store
                .maintain(&RetentionPolicy::new(args.retention_days))
                .await
                .context("retention failed")?;
            if report.skipped {
                writeln!(
                    out,
                    "another replica is running maintenance now; nothing done"
                )?;
            } else {
                writeln!(
                    out,
                    "kept {} days; partitions dropped: {}; created: {}; expired rows deleted \
                     from the default partition: {}; run keys deleted: {}; rollup rows deleted: {}",
                    args.retention_days,
                    list(&report.partitions_dropped),
                    list(&report.partitions_created),
                    report.default_rows_deleted,
                    report.run_keys_deleted,
                    report.rollup_rows_deleted
                )?;
            }
        }
        Command::Collector(args) => {
            let store = args.database.connect().await?;
            store.migrate().await.context("migrations failed")?;
            let collector = tasklens_collector::start(args.options.config(), Arc::new(store))
                .await
                .context("the collector cannot start")?;
            writeln!(
                out,
                "collector ready: OTLP/gRPC on {}, OTLP/HTTP on http://{} (POST /v1/traces, /v1/logs), health and metrics on http://{}",
                collector.grpc_addr, collector.http_addr, collector.admin_addr
            )?;
            out.flush()?;
            let stopper = collector.stopper();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: committing what was accepted");
                let _ = stopper.send(true);
            });
            collector.wait().await.context("the collector failed")?;
            writeln!(out, "collector stopped")?;
        }
        Command::Api(args) => api::run(args, out).await?,
        Command::Demo(args) => demo::run(args, out).await?,
        Command::Up(args) => up::run(args, out).await?,
    }
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
