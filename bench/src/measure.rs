//! The `run` command: write throughput (COPY baseline against batched writes), query latency
//! alone and under concurrent clients, retention of one day, and bytes per row.
//!
//! Order of the phases: storage and queries first, on the data exactly as generated; then the
//! writes (which add rows dated now); then retention, which drops the oldest full day (and, before
//! it, a partial oldest day: `generate`'s first day starts mid-day).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use tasklens_model::{Granularity, TaskRunEvent, TaskStatus};
use tasklens_store::{
    HistoryQuery, MaintenanceReport, PgStore, PgStoreOptions, RetentionPolicy, StorageStats,
    StoredRun, TaskStore, redact_url,
};
use tokio::sync::Barrier;

use crate::generate::{GeneratedRun, RunGenerator, now_micros};
use crate::stats::{Latency, median};

/// Rows per `copy_rows` call.
const COPY_CHUNK: usize = 10_000;
/// Events per `write_batch` call.
const BATCH_SIZE: usize = 1_000;

/// What `run` measures, and how much.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub database_url: String,
    /// Runs per write measurement (M); the lifecycle measurement uses M/4.
    pub writes: usize,
    /// Repetitions of each write measurement (interleaved).
    pub repeats: usize,
    pub warmup: usize,
    pub samples: usize,
    pub clients: usize,
    pub calls_per_client: usize,
    pub seed: u64,
    /// Days ahead of the maintenance policy `run` applies at start (kept by retention).
    pub days_ahead: u32,
    pub skip_queries: bool,
    pub skip_writes: bool,
    pub skip_load: bool,
    pub skip_retention: bool,
}

/// One query of the dashboard, with its window relative to the time of each call.
#[derive(Debug, Clone)]
enum Probe {
    Metrics {
        window: TimeDelta,
    },
    History {
        window: Option<TimeDelta>,
        task_name: Option<String>,
        status: Option<TaskStatus>,
        text: Option<String>,
    },
}

impl Probe {
    /// Runs the query once; returns what it found (task types for metrics, the total count for
    /// history) so the table shows that the query did real work.
    async fn call(&self, store: &PgStore) -> Result<i64> {
        let now = Utc::now();
        match self {
            Probe::Metrics { window } => {
                let metrics = store.metrics(now - *window).await?;
                Ok(metrics.iter().map(|m| m.total_executions).sum())
            }
            Probe::History {
                window,
                task_name,
                status,
                text,
            } => {
                let page = store
                    .history(&HistoryQuery {
                        task_name: task_name.clone(),
                        status: *status,
                        start: window.map(|w| now - w),
                        text: text.clone(),
                        ..HistoryQuery::default()
                    })
                    .await?;
                Ok(page.total_count)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct ProbeSpec {
    label: String,
    probe: Probe,
    /// p95 target, ms.
    target_ms: f64,
}

#[derive(Debug)]
struct QueryResult {
    spec: ProbeSpec,
    matches: i64,
    alone: Latency,
    loaded: Option<(Latency, f64)>,
}

#[derive(Debug, Default)]
struct WriteResult {
    /// rows/s of each repetition.
    copy: Vec<f64>,
    /// `import_runs`: COPY plus identities and rollups (where the batched path's extra cost
    /// over COPY goes).
    import: Vec<f64>,
    batched: Vec<f64>,
    lifecycle: Vec<f64>,
    runs: usize,
    lifecycle_runs: usize,
}

/// One `maintain` call that drops one day.
#[derive(Debug)]
struct RetentionStep {
    day: DateTime<Utc>,
    /// Runs created that day, before the drop.
    runs: i64,
    retention_days: u32,
    elapsed: Duration,
    report: MaintenanceReport,
}

#[derive(Debug)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory: String,
}

/// The 1-minute load average: other work on the machine shows in the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> Machine {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let field = |path: &str, key: &str| -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let memory = field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
        );
    Machine {
        cpus,
        cpu_model: field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        memory,
    }
}

/// Times `warmup + samples` sequential calls; keeps the last `samples`.
async fn time_alone(
    store: &PgStore,
    probe: &Probe,
    warmup: usize,
    samples: usize,
) -> Result<(Latency, i64)> {
    let mut matches = 0;
    for _ in 0..warmup {
        matches = probe.call(store).await?;
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        matches = probe.call(store).await?;
        times.push(started.elapsed());
    }
    Ok((Latency::of(&times), matches))
}

/// `clients` tasks sharing one store, each making one untimed call (which opens its connection)
/// and then, all together, `calls` timed calls. Returns the latencies and the calls per second.
async fn time_loaded(
    store: &PgStore,
    probe: &Probe,
    clients: usize,
    calls: usize,
) -> Result<(Latency, f64)> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (store, probe, barrier) = (store.clone(), probe.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let warm = probe.call(&store).await;
            barrier.wait().await;
            warm?;
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let started = Instant::now();
                probe.call(&store).await?;
                times.push(started.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut times = Vec::with_capacity(clients * calls);
    for task in tasks {
        times.extend(task.await.context("a client task panicked")??);
    }
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    #[allow(clippy::cast_precision_loss)]
    let rate = times.len() as f64 / wall;
    Ok((Latency::of(&times), rate))
}

async fn count_before(store: &PgStore, end: DateTime<Utc>) -> Result<i64> {
    let page = store
        .history(&HistoryQuery {
            end: Some(end),
            page_size: 1,
            ..HistoryQuery::default()
        })
        .await?;
    Ok(page.total_count)
}

/// The first day (UTC) that holds runs, by bisection over counts of runs created before a day.
async fn oldest_day(store: &PgStore) -> Result<DateTime<Utc>> {
    const MAX_DAYS_BACK: i64 = 400;
    let today = Granularity::Day.floor(Utc::now());
    let boundary = |k: i64| today - TimeDelta::days(k);
    if count_before(store, boundary(MAX_DAYS_BACK)).await? > 0 {
        bail!("the store holds runs older than {MAX_DAYS_BACK} days");
    }
    if count_before(store, today + TimeDelta::days(2)).await? == 0 {
        bail!("the store holds no runs: run `generate` first");
    }
    // Invariant: runs exist before boundary(lo) (or lo = -2); none before boundary(hi).
    let (mut lo, mut hi) = (-2i64, MAX_DAYS_BACK);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if count_before(store, boundary(mid)).await? > 0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(boundary(hi))
}

/// A task id from the middle of the data, found by a plain history call.
async fn some_task_id(store: &PgStore, oldest: DateTime<Utc>) -> Result<String> {
    let middle = oldest + (Utc::now() - oldest) / 2;
    let page = store
        .history(&HistoryQuery {
            start: Some(middle),
            end: Some(middle + TimeDelta::hours(1)),
            ..HistoryQuery::default()
        })
        .await?;
    page.items
        .first()
        .map(|run| run.state.task_id.clone())
        .context("no run found in the middle of the data")
}

fn probes(task_id_prefix: &str) -> Vec<ProbeSpec> {
    let history = |window: Option<TimeDelta>,
                   task_name: Option<&str>,
                   status: Option<TaskStatus>,
                   text: Option<&str>| Probe::History {
        window,
        task_name: task_name.map(str::to_owned),
        status,
        text: text.map(str::to_owned),
    };
    let spec = |label: &str, probe, target_ms| ProbeSpec {
        label: label.to_owned(),
        probe,
        target_ms,
    };
    vec![
        spec(
            "metrics, 24 h",
            Probe::Metrics {
                window: TimeDelta::hours(24),
            },
            10.0,
        ),
        spec(
            "metrics, 7 d",
            Probe::Metrics {
                window: TimeDelta::days(7),
            },
            10.0,
        ),
        spec(
            "metrics, 30 d",
            Probe::Metrics {
                window: TimeDelta::days(30),
            },
            20.0,
        ),
        spec(
            "history: score_message + failed, 7 d (page 1 + count)",
            history(
                Some(TimeDelta::days(7)),
                Some("score_message"),
                Some(TaskStatus::Failed),
                None,
            ),
            50.0,
        ),
        spec(
            "history: 7 d, no filter (page 1 + count)",
            history(Some(TimeDelta::days(7)), None, None, None),
            50.0,
        ),
        spec(
            "history: text \"rate limit\", all days (page 1 + count)",
            history(None, None, None, Some("rate limit")),
            100.0,
        ),
        spec(
            &format!("history: text = task id prefix \"{task_id_prefix}\" (page 1 + count)"),
            history(None, None, None, Some(task_id_prefix)),
            100.0,
        ),
    ]
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

async fn measure_writes(store: &PgStore, options: &RunOptions) -> Result<WriteResult> {
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

/// Drops `day` (the oldest day with runs) with one timed `maintain` at now, whose retention puts
/// the cutoff at the end of that day.
async fn drop_day(store: &PgStore, day: DateTime<Utc>, days_ahead: u32) -> Result<RetentionStep> {
    let next = day + TimeDelta::days(1);
    let runs = count_before(store, next).await? - count_before(store, day).await?;
    let now = Utc::now();
    let days = (Granularity::Day.floor(now) - next).num_days();
    let retention_days = u32::try_from(days)
        .ok()
        .filter(|d| *d > 0)
        .context("the data spans too few days to drop one")?;
    let policy = RetentionPolicy {
        retention_days,
        days_ahead,
        now,
    };
    let started = Instant::now();
    let report = store.maintain(&policy).await?;
    let elapsed = started.elapsed();
    if report.skipped {
        bail!("retention was skipped: another process holds the maintenance lock");
    }
    eprintln!(
        "  dropped {} ({runs} runs) in {:.3} s: {report:?}",
        day.format("%Y-%m-%d"),
        elapsed.as_secs_f64()
    );
    Ok(RetentionStep {
        day,
        runs,
        retention_days,
        elapsed,
        report,
    })
}

/// Drops the oldest day; when that day is partial (fewer than half the runs of the next one),
/// drops it and then the next, full, day, so the last step is a full day.
async fn measure_retention(
    store: &PgStore,
    oldest: DateTime<Utc>,
    days_ahead: u32,
) -> Result<Vec<RetentionStep>> {
    let next = oldest + TimeDelta::days(1);
    let oldest_runs = count_before(store, next).await?;
    let next_runs = count_before(store, next + TimeDelta::days(1)).await? - oldest_runs;
    let mut steps = vec![drop_day(store, oldest, days_ahead).await?];
    if oldest_runs * 2 < next_runs {
        steps.push(drop_day(store, next, days_ahead).await?);
    }
    Ok(steps)
}

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

    let mut queries = Vec::new();
    for spec in probes(&prefix) {
        if options.skip_queries {
            break;
        }
        eprintln!("query alone: {}", spec.label);
        let (alone, matches) =
            time_alone(store, &spec.probe, options.warmup, options.samples).await?;
        eprintln!(
            "  p50 {:.2} ms, p95 {:.2} ms, matches {matches}",
            alone.p50_ms, alone.p95_ms
        );
        queries.push(QueryResult {
            spec,
            matches,
            alone,
            loaded: None,
        });
    }
    if !options.skip_load && !queries.is_empty() {
        let clients = u32::try_from(options.clients).context("too many clients")?;
        let loaded_store = PgStore::connect(
            &options.database_url,
            &PgStoreOptions {
                max_connections: clients,
                acquire_timeout: Duration::from_secs(120),
            },
        )
        .await?;
        for query in &mut queries {
            eprintln!(
                "query under load ({} clients x {} calls): {}",
                options.clients, options.calls_per_client, query.spec.label
            );
            let (latency, rate) = time_loaded(
                &loaded_store,
                &query.spec.probe,
                options.clients,
                options.calls_per_client,
            )
            .await?;
            eprintln!(
                "  p50 {:.2} ms, p95 {:.2} ms, {rate:.0} calls/s",
                latency.p50_ms, latency.p95_ms
            );
            query.loaded = Some((latency, rate));
        }
        loaded_store.pool().close().await;
    }

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

struct Results<'a> {
    started_at: DateTime<Utc>,
    /// 1-minute load average at the start and at the end.
    load: [String; 2],
    database: String,
    options: &'a RunOptions,
    machine: Machine,
    storage: StorageStats,
    oldest: DateTime<Utc>,
    queries: Vec<QueryResult>,
    writes: Option<WriteResult>,
    retention: Option<Vec<RetentionStep>>,
}

/// "met (62% of the target)" or "missed: 3.1x the target" for a figure that must stay at or
/// under its target.
fn at_most(value: f64, target: f64) -> String {
    if value <= target {
        format!("met ({:.0}% of target)", 100.0 * value / target)
    } else {
        format!("**missed**: {:.2}x the target", value / target)
    }
}

fn thousands(value: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let digits = (value.round() as i64).to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[allow(clippy::cast_precision_loss)]
fn render(r: &Results<'_>) -> String {
    let mut md = String::new();
    let o = r.options;
    let _ = writeln!(md, "# tasklens-bench results\n");
    let _ = writeln!(
        md,
        "Run at {} against `{}`.\n",
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.database
    );

    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(
        md,
        "| CPUs (nproc) | CPU | memory | PostgreSQL | load average at start / end |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| {} | {} | {} | not reported (the store has no version call) | {} / {} |\n",
        r.machine.cpus, r.machine.cpu_model, r.machine.memory, r.load[0], r.load[1]
    );

    let s = &r.storage;
    let runs = s.runs.max(1) as f64;
    let _ = writeln!(md, "## Data\n");
    let _ = writeln!(
        md,
        "{} runs, created from {} to now (before this run's writes).\n",
        thousands(s.runs as f64),
        r.oldest.format("%Y-%m-%d")
    );

    if let Some(w) = &r.writes {
        let copy = median(&w.copy);
        let import = median(&w.import);
        let batched = median(&w.batched);
        let lifecycle = median(&w.lifecycle);
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| thousands(*x))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let _ = writeln!(md, "## a. Write throughput\n");
        let _ = writeln!(
            md,
            "{} rounds, interleaved (COPY, import, batched, lifecycle, COPY, ...); fresh \
             finished runs dated the minute before each measurement, distinct in every \
             measurement; one client.\n",
            w.copy.len()
        );
        let _ = writeln!(
            md,
            "| method | runs per round | each round (rows/s) | median rows/s | vs COPY |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|");
        let _ = writeln!(
            md,
            "| (i) `copy_rows`, binary COPY, {COPY_CHUNK} rows per call (baseline) | {} | {} | {} | 100% |",
            thousands(w.runs as f64),
            list(&w.copy),
            thousands(copy)
        );
        let _ = writeln!(
            md,
            "| (for reference) `import_runs`: COPY + identities + rollups, {COPY_CHUNK} rows per transaction | {} | {} | {} | {:.0}% |",
            thousands(w.runs as f64),
            list(&w.import),
            thousands(import),
            100.0 * import / copy
        );
        let _ = writeln!(
            md,
            "| (ii) `write_batch`, 1 finished event per run, {BATCH_SIZE} events per batch | {} | {} | {} | {:.0}% |",
            thousands(w.runs as f64),
            list(&w.batched),
            thousands(batched),
            100.0 * batched / copy
        );
        let _ = writeln!(
            md,
            "| (iii) `write_batch`, pending + running + finished batches of {BATCH_SIZE} (runs/s) | {} | {} | {} | {:.0}% |\n",
            thousands(w.lifecycle_runs as f64),
            list(&w.lifecycle),
            thousands(lifecycle),
            100.0 * lifecycle / copy
        );
        let ratio = batched / copy;
        let _ = writeln!(
            md,
            "Target: batched writes >= 50% of the COPY rate: {} (batched = {:.0}% of COPY).\n",
            if ratio >= 0.5 { "met" } else { "**missed**" },
            100.0 * ratio
        );
    }

    let _ = writeln!(md, "## b. Query latency\n");
    let _ = writeln!(
        md,
        "Alone: one client, {} warm-up calls then {} timed calls. Under load: {} clients \
         sharing one store (pool of {}), each one untimed call then {} timed calls, all \
         together. Percentiles are nearest-rank. \"Matches\": summed executions for metrics, \
         total count for history.\n",
        o.warmup, o.samples, o.clients, o.clients, o.calls_per_client
    );
    let _ = writeln!(
        md,
        "| query | matches | p50 ms | p95 ms | max ms | target p95 | verdict | p50 ms under load | p95 ms under load | calls/s under load |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    for q in &r.queries {
        let (lp50, lp95, rate) = match q.loaded {
            Some((l, rate)) => (
                format!("{:.1}", l.p50_ms),
                format!("{:.1}", l.p95_ms),
                format!("{rate:.0}"),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.2} | {:.2} | < {:.0} ms | {} | {} | {} | {} |",
            q.spec.label,
            thousands(q.matches as f64),
            q.alone.p50_ms,
            q.alone.p95_ms,
            q.alone.max_ms,
            q.spec.target_ms,
            at_most(q.alone.p95_ms, q.spec.target_ms),
            lp50,
            lp95,
            rate
        );
    }
    let _ = writeln!(md);

    if let Some(steps) = &r.retention {
        let _ = writeln!(md, "## c. Retention of one day\n");
        let _ = writeln!(
            md,
            "Each step: one `maintain` at now with `retention_days` set so that the cutoff is \
             the end of the oldest day, timed. When the oldest day is partial (the generated \
             data starts mid-day), it is dropped first and the next, full, day is the one held \
             to the target.\n"
        );
        let _ = writeln!(md, "| figure |{}", " day dropped |".repeat(steps.len()));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(steps.len()));
        let mut row = |label: &str, cell: &dyn Fn(&RetentionStep) -> String| {
            let cells: String = steps.iter().map(|s| format!(" {} |", cell(s))).collect();
            let _ = writeln!(md, "| {label} |{cells}");
        };
        row("day", &|s| s.day.format("%Y-%m-%d").to_string());
        row("runs that day", &|s| thousands(s.runs as f64));
        row("`retention_days`", &|s| s.retention_days.to_string());
        row("**time**", &|s| {
            format!("**{:.3} s**", s.elapsed.as_secs_f64())
        });
        row("partitions dropped", &|s| {
            s.report.partitions_dropped.join(", ")
        });
        row("partitions created", &|s| {
            s.report.partitions_created.len().to_string()
        });
        row("run keys deleted", &|s| {
            thousands(s.report.run_keys_deleted as f64)
        });
        row("rollup rows deleted", &|s| {
            thousands(s.report.rollup_rows_deleted as f64)
        });
        row("default-partition rows deleted / moved", &|s| {
            format!(
                "{} / {}",
                s.report.default_rows_deleted, s.report.rows_moved_from_default
            )
        });
        row("skipped", &|s| s.report.skipped.to_string());
        if let Some(full) = steps.last() {
            let _ = writeln!(
                md,
                "\nTarget: one day's retention < 1 s: {} ({} runs dropped in {:.3} s).\n",
                at_most(full.elapsed.as_secs_f64(), 1.0),
                thousands(full.runs as f64),
                full.elapsed.as_secs_f64()
            );
        }
    }

    let per = |bytes: i64| bytes as f64 / runs;
    let total = s.run_table_bytes + s.run_index_bytes + s.key_bytes + s.rollup_bytes;
    let _ = writeln!(md, "## d. Bytes per row\n");
    let _ = writeln!(
        md,
        "From `storage_stats` before this run's writes: {} runs, {} rollup rows.\n",
        thousands(s.runs as f64),
        thousands(s.rollup_rows as f64)
    );
    let _ = writeln!(md, "| part | MiB | bytes per run |");
    let _ = writeln!(md, "|---|---:|---:|");
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
    for (label, bytes) in [
        ("run rows (heap + TOAST)", s.run_table_bytes),
        ("run indexes", s.run_index_bytes),
        (
            "rows + their indexes (without keys and rollups)",
            s.run_table_bytes + s.run_index_bytes,
        ),
        ("run keys (identity table + indexes)", s.key_bytes),
        ("rollups (table + index)", s.rollup_bytes),
        ("**total**", total),
    ] {
        let _ = writeln!(md, "| {label} | {:.1} | {:.0} |", mib(bytes), per(bytes));
    }
    let _ = writeln!(
        md,
        "\nTarget: <= 400 bytes per row including indexes: {}.\n",
        at_most(s.bytes_per_run(), 400.0)
    );
    md
}
