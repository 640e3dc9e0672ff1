//! The `run` command: write throughput (COPY baseline against batched writes), query latency
//! alone and under concurrent clients, retention of one day, and bytes per row.
//!
//! Order of the phases: storage and queries first, on the data exactly as generated; then the
//! writes (which add rows dated now); then retention, which drops the oldest full day (and, before
//! it, a partial oldest day: `generate`'s first day starts mid-day).

mod data;
mod options;
mod queries;
mod report;
mod retention;
mod writes;

use anyhow::Result;
use chrono::Utc;
use tasklens_store::{PgStore, redact_url};

use data::{oldest_day, some_task_id};
pub use options::RunOptions;
use queries::measure_queries;
use report::{Results, load_average, machine, render};
use retention::measure_retention;
use writes::measure_writes;

/// Runs every measurement and returns the results as markdown.
pub async fn run(store: &PgStore, options: &RunOptions) -> Result<String> {
    let started_at = Utc::now();
    let machine = machine();
    let load_at_start = load_average();
    eprintln!("storage figures...");
    let storage = store.storage_stats().await?;
    let oldest = oldest_day(store).await?;
    let task_id = some_task_id(store, oldest).await?;
    let prefix: String = task_id.chars().take(8).collect();

    let queries = if options.skip_queries {
        Vec::new()
    } else {
        measure_queries(store, options, &prefix).await?
    };

    let writes = if options.skip_writes {
        None
    } else {
        Some(measure_writes(store, options).await?)
    };
    let retention = if options.skip_retention {
        None
    } else {
        eprintln!("retention of the oldest day...");
        Some(measure_retention(store, oldest, options.days_ahead).await?)
    };

    Ok(render(&Results {
        started_at,
        load: [load_at_start, load_average()],
        database: redact_url(&options.database_url),
        options,
        machine,
        storage,
        oldest,
        queries,
        writes,
        retention,
    }))
}
