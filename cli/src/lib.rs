//! The `tasklens` command: argument parsing and the subcommands, as a library so end-to-end
//! tests can drive it in-process. `main.rs` only maps the result to an exit code.

use std::ffi::OsString;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
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
