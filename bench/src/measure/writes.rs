//! Write throughput: binary COPY (the baseline), `import_runs`, and batched writes of finished
//! runs and of whole lifecycles, in interleaved rounds.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chrono::Utc;
use tasklens_model::TaskRunEvent;
use tasklens_store::{PgStore, StoredRun, TaskStore};

use super::options::RunOptions;
use crate::generate::{GeneratedRun, RunGenerator, now_micros};

/// Rows per `copy_rows` call.
pub const COPY_CHUNK: usize = 10_000;
/// Events per `write_batch` call.
pub const BATCH_SIZE: usize = 1_000;

#[derive(Debug, Default)]
pub struct WriteResult {
    /// rows/s of each repetition.
    pub copy: Vec<f64>,
    /// `import_runs`: COPY plus identities and rollups (where the batched path's extra cost
    /// over COPY goes).
    pub import: Vec<f64>,
    pub batched: Vec<f64>,
    pub lifecycle: Vec<f64>,
    pub runs: usize,
    pub lifecycle_runs: usize,
}

fn rows_per_second(rows: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let rows = rows as f64;
    rows / elapsed.as_secs_f64().max(1e-9)
}

async fn stored_runs(store: &PgStore, runs: Vec<GeneratedRun>) -> Result<Vec<StoredRun>> {
    let ids = store.reserve_ids(runs.len()).await?;
    if ids.len() != runs.len() {
        bail!("asked for {} ids, got {}", runs.len(), ids.len());
    }
    Ok(runs
        .into_iter()
        .zip(ids)
        .map(|(run, id)| run.stored(id))
        .collect())
}

async fn write_checked(store: &PgStore, batch: Vec<TaskRunEvent>) -> Result<()> {
    let n = batch.len();
    let outcome = store.write_batch(batch).await?;
    if let Some(violation) = outcome.rejected.first() {
        bail!("a generated event was refused: {violation}");
    }
    if outcome.changed.len() != n {
        bail!(
            "a batch of {n} events changed {} runs",
            outcome.changed.len()
        );
    }
    Ok(())
}

/// (i) COPY of M rows in chunks, the baseline (or, with `import`, `import_runs`: COPY with
/// identities and rollups). Ids are reserved before the clock starts.
async fn measure_copy(
    store: &PgStore,
    generator: &mut RunGenerator,
    m: usize,
    import: bool,
) -> Result<f64> {
    let rows = stored_runs(store, generator.finished_batch(m, now_micros())).await?;
    let started = Instant::now();
    let mut written = 0;
    for chunk in rows.chunks(COPY_CHUNK) {
        written += if import {
            store.import_runs(chunk).await?
        } else {
            store.copy_rows(chunk).await?
        };
    }
    let elapsed = started.elapsed();
    if usize::try_from(written)? != m {
        bail!("COPY wrote {written} rows of {m}");
    }
    Ok(rows_per_second(m, elapsed))
}

/// (ii) M runs, one finished event each, in batches.
async fn measure_batched(store: &PgStore, generator: &mut RunGenerator, m: usize) -> Result<f64> {
    let runs = generator.finished_batch(m, now_micros());
    let batches: Vec<Vec<TaskRunEvent>> = runs
        .chunks(BATCH_SIZE)
        .map(|chunk| chunk.iter().map(GeneratedRun::finished_event).collect())
        .collect();
    drop(runs);
    let started = Instant::now();
    for batch in batches {
        write_checked(store, batch).await?;
    }
    Ok(rows_per_second(m, started.elapsed()))
}

/// (iii) M/4 runs as lifecycles: for each group of runs, a batch of their pending events, then
/// one of their running events, then one of their finished events. Returns runs per second.
async fn measure_lifecycle(
    store: &PgStore,
    generator: &mut RunGenerator,
    runs: usize,
) -> Result<f64> {
    let generated = generator.finished_batch(runs, now_micros());
    let mut batches: Vec<Vec<TaskRunEvent>> = Vec::with_capacity(3 * runs / BATCH_SIZE + 3);
    for chunk in generated.chunks(BATCH_SIZE) {
        let mut phases: [Vec<TaskRunEvent>; 3] = Default::default();
        for run in chunk {
            for (phase, event) in phases.iter_mut().zip(run.lifecycle_events()) {
                phase.push(event);
            }
        }
        batches.extend(phases);
    }
    drop(generated);
    let started = Instant::now();
    for batch in batches {
        write_checked(store, batch).await?;
    }
    Ok(rows_per_second(runs, started.elapsed()))
}

pub async fn measure_writes(store: &PgStore, options: &RunOptions) -> Result<WriteResult> {
    let m = options.writes;
    let mut result = WriteResult {
        runs: m,
        lifecycle_runs: m / 4,
        ..WriteResult::default()
    };
    // The clock joins the seed: every `run` writes task ids no earlier run has written.
    let clock = u64::try_from(Utc::now().timestamp_micros()).unwrap_or_default();
    let mut generator = RunGenerator::new(options.seed ^ clock);
    for round in 1..=options.repeats {
        let copy = measure_copy(store, &mut generator, m, false).await?;
        eprintln!("writes, round {round}: COPY {copy:.0} rows/s");
        result.copy.push(copy);
        let import = measure_copy(store, &mut generator, m, true).await?;
        eprintln!("writes, round {round}: import {import:.0} rows/s");
        result.import.push(import);
        let batched = measure_batched(store, &mut generator, m).await?;
        eprintln!("writes, round {round}: batched {batched:.0} rows/s");
        result.batched.push(batched);
        let lifecycle = measure_lifecycle(store, &mut generator, m / 4).await?;
        eprintln!("writes, round {round}: lifecycle {lifecycle:.0} runs/s");
        result.lifecycle.push(lifecycle);
    }
    Ok(result)
}
