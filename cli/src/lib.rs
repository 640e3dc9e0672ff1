//! The `tasklens` command: argument parsing and the subcommands, as a library so end-to-end
//! tests can drive it in-process. `main.rs` only maps the result to an exit code.

mod api;
mod demo;
mod options;
mod shutdown;
mod up;

use std::ffi::OsString;

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tasklens_store::{PgStore, RetentionPolicy, TaskStore, redact_url};

pub use options::{CollectorArgs, CollectorOptions, DatabaseArgs, RetentionArgs};
use shutdown::shutdown_signal;

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
    /// Receive OpenTelemetry traces and logs (OTLP over gRPC and HTTP), recognize task runs and
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

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
