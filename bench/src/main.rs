//! `tasklens-bench`: fills a store with realistic runs (`generate`) and measures it (`run`).
//! See BENCHMARKS.md for the commands and the figures.
//!
//! Architecture Invariant: no SQL here except creating and dropping the benchmark database
//! itself ([`admin`]); everything else goes through the store's public API.

mod generate;
mod measure;

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tasklens_store::{PgStore, PgStoreOptions, RetentionPolicy, TaskStore, redact_url};

use crate::generate::{GenerateOptions, now_micros};
use crate::measure::RunOptions;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/tasklens_bench";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Data generator and benchmarks for the tasklens store"
)]
struct Cli {
    /// The benchmark database; created if missing.
    #[arg(long, global = true, default_value = DEFAULT_URL)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fills an empty store with days of realistic runs, the most recent day ending now.
    Generate {
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long, default_value_t = 1_000_000)]
        rows_per_day: usize,
        /// Seed of the random generator (same seed, same runs).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Drops and recreates the database first.
        #[arg(long)]
        fresh: bool,
    },
    /// Measures write throughput, query latency, retention and storage; writes a markdown table.
    Run {
        /// Where the markdown results go (they are printed too).
        #[arg(long, default_value = "bench-results.md")]
        out: PathBuf,
        /// Runs per write measurement (M); the lifecycle measurement uses M/4.
        #[arg(long, default_value_t = 200_000)]
        writes: usize,
        /// Repetitions of each write measurement, interleaved; the median is reported.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Untimed calls per query before the timed ones, one client.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Timed calls per query, one client.
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Concurrent clients of the load test.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Timed calls per client in the load test.
        #[arg(long, default_value_t = 20)]
        calls_per_client: usize,
        /// Retention of the maintenance `run` applies at start; must keep the generated days
        /// (`generate` uses days + 2).
        #[arg(long, default_value_t = 32)]
        retention_days: u32,
        /// Seed of the write sets (mixed with the clock, so no two runs write the same runs).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Skips the query latency measurements (alone and under load).
        #[arg(long)]
        skip_queries: bool,
        /// Skips the write throughput measurements.
        #[arg(long)]
        skip_writes: bool,
        /// Skips the query latency measurements under concurrent clients.
        #[arg(long)]
        skip_load: bool,
        /// Keeps the data: no day is dropped.
        #[arg(long)]
        skip_retention: bool,
    },
    /// Drops the benchmark database.
    DropDatabase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admin {
    Create,
    Drop,
}

/// Creates (if missing) or drops the database of `url`, from the `postgres` maintenance database.
/// The one place of this crate with SQL: administration, not store access.
async fn admin(url: &str, action: Admin) -> Result<()> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("invalid database URL {}", redact_url(url)))?;
    let name = options
        .get_database()
        .context("the database URL names no database")?
        .to_owned();
    let mut conn = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("connecting to the maintenance database `postgres`")?;
    let ident = format!("\"{}\"", name.replace('"', "\"\""));
    let sql = match action {
        Admin::Create => format!("CREATE DATABASE {ident}"),
        Admin::Drop => format!("DROP DATABASE IF EXISTS {ident} WITH (FORCE)"),
    };
    match sqlx::query(&sql).execute(&mut conn).await {
        Ok(_) => eprintln!(
            "{} database {name}",
            if action == Admin::Create {
                "created"
            } else {
                "dropped"
            }
        ),
        // 42P04: duplicate_database.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => return Err(e).with_context(|| format!("{action:?} database {name}")),
    }
    conn.close().await?;
    Ok(())
}

/// Creates the database if missing, connects, migrates and applies maintenance.
async fn open(url: &str, retention_days: u32) -> Result<PgStore> {
    admin(url, Admin::Create).await?;
    let store = PgStore::connect(url, &PgStoreOptions::default()).await?;
    store.migrate().await?;
    let report = store
        .maintain(&RetentionPolicy {
            retention_days,
            days_ahead: RetentionPolicy::DEFAULT_DAYS_AHEAD,
            now: now_micros(),
        })
        .await?;
    if !report.partitions_dropped.is_empty() {
        eprintln!("maintenance dropped {:?}", report.partitions_dropped);
    }
    Ok(store)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let url = cli.database_url;
    match cli.command {
        Command::Generate {
            days,
            rows_per_day,
            seed,
            fresh,
        } => {
            if fresh {
                admin(&url, Admin::Drop).await?;
            }
            let store = open(&url, days + 2).await?;
            generate::generate(
                &store,
                &GenerateOptions {
                    days,
                    rows_per_day,
                    seed,
                },
            )
            .await?;
        }
        Command::Run {
            out,
            writes,
            repeats,
            warmup,
            samples,
            clients,
            calls_per_client,
            retention_days,
            seed,
            skip_queries,
            skip_writes,
            skip_load,
            skip_retention,
        } => {
            let store = open(&url, retention_days).await?;
            let markdown = measure::run(
                &store,
                &RunOptions {
                    database_url: url.clone(),
                    writes,
                    repeats: repeats.max(1),
                    warmup,
                    samples: samples.max(1),
                    clients: clients.max(1),
                    calls_per_client: calls_per_client.max(1),
                    seed,
                    days_ahead: RetentionPolicy::DEFAULT_DAYS_AHEAD,
                    skip_queries,
                    skip_writes,
                    skip_load,
                    skip_retention,
                },
            )
            .await?;
            println!("{markdown}");
            std::fs::write(&out, &markdown)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("results written to {}", out.display());
        }
        Command::DropDatabase => admin(&url, Admin::Drop).await?,
    }
    Ok(())
}
