//! `tasklens up`: the collector, the dashboard API and the page in one process, on an embedded
//! SQLite store unless a PostgreSQL URL is given, optionally with the demo worker feeding it.
//! The way to try tasklens with one command.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use tasklens_instrumentation::OtlpProtocol;
use tasklens_instrumentation::demo::{self, DemoConfig};
use tasklens_store::{PgStore, PgStoreOptions, SqliteStore, TaskStore, redact_url};
use tokio::sync::watch;

use crate::api::ApiOptions;
use crate::options::CollectorOptions;
use crate::shutdown::shutdown_signal;

/// The embedded database's file name inside the data directory.
pub const SQLITE_FILE: &str = "tasklens.sqlite3";

#[derive(Debug, Args)]
pub struct UpArgs {
    /// PostgreSQL URL (postgres://user:password@host:5432/database). Unset: an embedded SQLite
    /// database in --data-dir. Unlike the other commands, `up` does not fall back to
    /// DATABASE_URL, so a variable meant for another program never moves it off the embedded
    /// store.
    #[arg(
        long,
        env = "TASKLENS_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Directory of the embedded database, created on first start. Ignored with
    /// --database-url.
    #[arg(
        long,
        env = "TASKLENS_DATA_DIR",
        value_name = "DIR",
        default_value = ".tasklens-data"
    )]
    pub data_dir: PathBuf,
    /// Also run the demo worker: the ten demo task types sent to this process's own
    /// collector, so the page is alive at once.
    #[arg(long, env = "TASKLENS_DEMO")]
    pub demo: bool,
    /// New demo task runs per second (with --demo).
    #[arg(long, env = "TASKLENS_DEMO_RATE", default_value_t = 5.0)]
    pub demo_rate: f64,
    #[command(flatten)]
    pub collector: CollectorOptions,
    #[command(flatten)]
    pub api: ApiOptions,
}

/// The store `up` runs on.
enum Backend {
    Postgres(String),
    Sqlite(PathBuf),
}

impl UpArgs {
    fn backend(&self) -> Result<Backend> {
        match self.database_url.as_deref().map(str::trim) {
            None | Some("") => Ok(Backend::Sqlite(self.data_dir.join(SQLITE_FILE))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Backend::Postgres(url.to_owned()))
            }
            Some(url) => Err(anyhow!(
                "--database-url / TASKLENS_DATABASE_URL must be a postgres:// URL, got {}; \
                 leave it unset to use the embedded store in --data-dir",
                redact_url(url)
            )),
        }
    }
}

/// Where a sender on this machine reaches a listener bound to `addr` (0.0.0.0 → 127.0.0.1).
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

async fn open_store(backend: &Backend) -> Result<(Arc<dyn TaskStore>, String)> {
    match backend {
        Backend::Postgres(url) => {
            PgStore::create_database_if_missing(url)
                .await
                .context("creating the database failed")?;
            let store = PgStore::connect(url, &PgStoreOptions::default())
                .await
                .with_context(|| {
                    format!(
                        "database {} is not usable; fix --database-url / TASKLENS_DATABASE_URL",
                        redact_url(url)
                    )
                })?;
            store.migrate().await.context("migrations failed")?;
            Ok((Arc::new(store), format!("PostgreSQL {}", redact_url(url))))
        }
        Backend::Sqlite(path) => {
            let store = SqliteStore::open(path).await.with_context(|| {
                format!(
                    "the embedded store at {} cannot be opened; choose another --data-dir",
                    path.display()
                )
            })?;
            Ok((Arc::new(store), format!("SQLite {}", path.display())))
        }
    }
}

pub(crate) async fn run(args: UpArgs, out: &mut impl std::io::Write) -> Result<()> {
    let backend = args.backend()?;
    let (store, store_name) = open_store(&backend).await?;

    let collector_config = args.collector.config();
    let token = collector_config.token.clone();
    let collector = tasklens_collector::start(collector_config, Arc::clone(&store))
        .await
        .context("the collector cannot start")?;
    let api_config = args.api.config();
    let has_page = api_config.ui_dir.is_some();
    let api = match tasklens_dashboard_api::start(api_config, Arc::clone(&store)).await {
        Ok(api) => api,
        Err(err) => {
            let _ = collector.shutdown().await;
            return Err(err).context("the dashboard API cannot start");
        }
    };

    let page = reachable(api.addr);
    let grpc = reachable(collector.grpc_addr);
    let http = reachable(collector.http_addr);
    writeln!(out, "tasklens is up on {store_name}")?;
    if has_page {
        writeln!(out, "  page:      http://{page}/monitoring")?;
    } else {
        writeln!(
            out,
            "  page:      not built (run `npm --prefix ui ci && npm --prefix ui run build`); API on http://{page}/api/v1/monitoring/"
        )?;
    }
    writeln!(
        out,
        "  OTLP/gRPC: http://{grpc}  (OTEL_EXPORTER_OTLP_ENDPOINT)"
    )?;
    writeln!(
        out,
        "  OTLP/HTTP: http://{http}  (POST /v1/traces, /v1/logs)"
    )?;

    let (stop_demo, demo_stopped) = watch::channel(false);
    let demo_task = if args.demo {
        writeln!(
            out,
            "  demo worker: {} runs/s of 10 task types",
            args.demo_rate
        )?;
        let config = DemoConfig {
            rate_per_sec: args.demo_rate,
            endpoint: format!("http://{grpc}"),
            protocol: OtlpProtocol::Grpc,
            token,
            ..DemoConfig::default()
        };
        let mut stopped = demo_stopped.clone();
        Some(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            demo::run(config, shutdown).await
        }))
    } else {
        None
    };
    // Last line of the banner: scripts and tests wait for it.
    writeln!(
        out,
        "  health and metrics: http://{} (collector), http://{page}/metrics (API)",
        reachable(collector.admin_addr)
    )?;
    out.flush()?;

    shutdown_signal().await;
    tracing::info!("shutting down: the demo first, then the collector commits what it accepted");
    let _ = stop_demo.send(true);
    if let Some(task) = demo_task {
        match task.await {
            Ok(Ok(summary)) => writeln!(
                out,
                "demo stopped: {} tasks, {} attempts, {} failed",
                summary.tasks, summary.attempts, summary.failed_attempts
            )?,
            Ok(Err(err)) => writeln!(out, "the demo worker failed: {err}")?,
            Err(err) => writeln!(out, "the demo worker panicked: {err}")?,
        }
    }
    collector
        .shutdown()
        .await
        .context("the collector failed while stopping")?;
    let _ = api.stopper().send(true);
    api.wait().await.context("the dashboard API failed")?;
    writeln!(out, "tasklens stopped")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn up(args: &[&str]) -> UpArgs {
        let mut argv = vec!["tasklens", "up"];
        argv.extend_from_slice(args);
        match crate::Cli::try_parse_from(argv).expect("parses").command {
            crate::Command::Up(args) => args,
            other => panic!("not up: {other:?}"),
        }
    }

    #[test]
    fn no_database_url_means_the_embedded_store_in_the_data_dir() {
        let args = up(&["--data-dir", "/tmp/x", "--database-url", " "]);
        match args.backend().expect("backend") {
            Backend::Sqlite(path) => assert_eq!(path, PathBuf::from("/tmp/x").join(SQLITE_FILE)),
            Backend::Postgres(_) => panic!("expected SQLite"),
        }
    }

    #[test]
    fn a_postgres_url_means_postgres_and_anything_else_is_refused_by_name() {
        let args = up(&["--database-url", "postgres://u:secret@db/tasklens"]);
        assert!(matches!(args.backend(), Ok(Backend::Postgres(_))));
        let args = up(&["--database-url", "mysql://u:secret@db/tasklens"]);
        let message = args.backend().err().expect("refused").to_string();
        assert!(message.contains("must be a postgres:// URL"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn up_takes_the_same_address_flags_as_the_separate_commands() {
        let args = up(&[
            "--otlp-grpc-addr",
            "127.0.0.1:14317",
            "--otlp-http-addr",
            "127.0.0.1:14318",
            "--admin-addr",
            "127.0.0.1:14319",
            "--http-addr",
            "127.0.0.1:18080",
            "--demo",
        ]);
        assert_eq!(args.collector.otlp_grpc_addr.port(), 14317);
        assert_eq!(args.collector.otlp_http_addr.port(), 14318);
        assert_eq!(args.collector.admin_addr.port(), 14319);
        assert_eq!(args.api.http_addr.port(), 18080);
        assert!(args.demo);
    }

    #[test]
    fn stuck_thresholds_reach_the_api_in_order() {
        let args = up(&[
            "--stuck-threshold",
            "scheduled_*=15m",
            "--stuck-threshold",
            "score_message=30s",
        ]);
        let thresholds = args.api.config().stuck_thresholds;
        let rules: Vec<(&str, u64)> = thresholds
            .rules
            .iter()
            .map(|r| (r.pattern.as_str(), r.threshold.as_secs()))
            .collect();
        assert_eq!(rules, [("scheduled_*", 900), ("score_message", 30)]);
    }

    #[test]
    fn wildcard_addresses_are_reached_on_loopback() {
        let addr: SocketAddr = "0.0.0.0:4317".parse().expect("addr");
        assert_eq!(reachable(addr).to_string(), "127.0.0.1:4317");
    }
}
