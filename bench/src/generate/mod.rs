//! Realistic task runs: the ten demo task types of the catalogue
//! ([`tasklens_instrumentation::demo::catalogue`]) with their own frequencies, durations, params
//! and failures, and the `generate` command that loads days of them into the store.
//!
//! Everything random comes from one seeded [`rand::rngs::StdRng`] per day, so the same `--seed`
//! gives the same runs (task ids, statuses, durations, errors); only the dates follow the clock.

mod day;
mod runs;
mod traceback;

use std::thread;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tasklens_store::{PgStore, RetentionPolicy, StoredRun, TaskStore};
use tokio::sync::mpsc;

use day::DayPlan;
pub use runs::{GeneratedRun, RunGenerator};

/// Runs imported per `import_runs` call.
pub const IMPORT_CHUNK: usize = 50_000;

/// What `generate` does.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub days: u32,
    pub rows_per_day: usize,
    pub seed: u64,
}

/// Microsecond precision, as the store keeps.
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

fn day_seed(seed: u64, day: u32) -> u64 {
    seed ^ u64::from(day + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

struct Chunk {
    day: u32,
    runs: Vec<GeneratedRun>,
}

/// Fills the store with `days` days of runs, the most recent day ending now.
pub async fn generate(store: &PgStore, options: &GenerateOptions) -> Result<()> {
    let GenerateOptions {
        days,
        rows_per_day,
        seed,
    } = options.clone();
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let before = store.storage_stats().await?.runs;
    if before > 0 {
        bail!(
            "the database already holds {before} runs; generate into an empty database \
             (use --fresh to drop and recreate it)"
        );
    }
    let now = now_micros();
    let retention_days = days + 2;
    let report = store
        .maintain(&RetentionPolicy {
            retention_days,
            days_ahead: RetentionPolicy::DEFAULT_DAYS_AHEAD,
            now,
        })
        .await?;
    eprintln!(
        "maintenance at now: {} partitions created",
        report.partitions_created.len()
    );

    // Runs are made on a thread of their own while the previous chunk is being imported.
    let (tx, mut rx) = mpsc::channel::<Chunk>(2);
    let producer = thread::spawn(move || {
        for day in 0..days {
            let to = now - TimeDelta::days(i64::from(days - 1 - day));
            let from = to - TimeDelta::days(1);
            let mut plan = DayPlan::new(day_seed(seed, day), from, to, rows_per_day, now);
            loop {
                let runs = plan.next_chunk(IMPORT_CHUNK);
                if runs.is_empty() {
                    break;
                }
                if tx.blocking_send(Chunk { day, runs }).is_err() {
                    return; // the importer stopped on an error
                }
            }
        }
    });

    let started = Instant::now();
    let mut total: u64 = 0;
    let mut day_rows: u64 = 0;
    let mut day_started = Instant::now();
    let mut current_day = None;
    let mut statuses = [0u64; 4];
    while let Some(Chunk { day, runs }) = rx.recv().await {
        if current_day != Some(day) {
            if let Some(previous) = current_day {
                print_day_progress(previous, days, day_rows, day_started, total, started);
            }
            current_day = Some(day);
            day_rows = 0;
            day_started = Instant::now();
            // maintain() only creates partitions from yesterday on: moving "now" to the end of
            // each day creates that day's partitions (D-1 and D) before its rows arrive.
            let day_end = now - TimeDelta::days(i64::from(days - 1 - day));
            let report = store
                .maintain(&RetentionPolicy {
                    retention_days,
                    days_ahead: 0,
                    now: day_end,
                })
                .await?;
            if report.skipped {
                bail!("maintenance was skipped: another process holds the maintenance lock");
            }
        }
        let ids = store.reserve_ids(runs.len()).await?;
        if ids.len() != runs.len() {
            bail!("asked for {} ids, got {}", runs.len(), ids.len());
        }
        let rows: Vec<StoredRun> = runs
            .into_iter()
            .zip(ids)
            .map(|(run, id)| {
                statuses[run.state.status.index()] += 1;
                run.stored(id)
            })
            .collect();
        let written = store.import_runs(&rows).await?;
        total += written;
        day_rows += written;
    }
    producer
        .join()
        .map_err(|_| anyhow!("the run generator thread panicked"))?;
    if let Some(day) = current_day {
        print_day_progress(day, days, day_rows, day_started, total, started);
    }

    let expected = u64::from(days) * rows_per_day as u64;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "loaded {total} runs in {elapsed:.1} s ({:.0} rows/s); statuses: pending {}, running {}, \
         success {}, failed {}",
        total as f64 / elapsed.max(1e-9),
        statuses[0],
        statuses[1],
        statuses[2],
        statuses[3]
    );
    let stored = store
        .storage_stats()
        .await
        .context("counting the stored runs")?
        .runs;
    let stored = u64::try_from(stored).context("negative run count")?;
    if stored != total || total != expected {
        bail!("count mismatch: generated {expected}, imported {total}, stored {stored}");
    }
    eprintln!("check: the store holds {stored} runs, as generated");
    Ok(())
}

fn print_day_progress(
    day: u32,
    days: u32,
    day_rows: u64,
    day_started: Instant,
    total: u64,
    started: Instant,
) {
    let day_secs = day_started.elapsed().as_secs_f64().max(1e-9);
    let total_secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "day {:>2}/{days}: {day_rows} rows in {day_secs:.1} s ({:.0} rows/s); total {total} rows, \
         {total_secs:.0} s, {:.0} rows/s",
        day + 1,
        day_rows as f64 / day_secs,
        total as f64 / total_secs
    );
}
