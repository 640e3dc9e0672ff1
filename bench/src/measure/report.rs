//! The markdown table of a `run`: machine, data, and each measurement against its target.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use tasklens_bench::stats::median;
use tasklens_store::StorageStats;

use super::options::RunOptions;
use super::queries::QueryResult;
use super::retention::RetentionStep;
use super::writes::{BATCH_SIZE, COPY_CHUNK, WriteResult};

#[derive(Debug)]
pub struct Machine {
    cpus: usize,
    cpu_model: String,
    memory: String,
}

/// The 1-minute load average: other work on the machine shows in the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

pub fn machine() -> Machine {
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

pub struct Results<'a> {
    pub started_at: DateTime<Utc>,
    /// 1-minute load average at the start and at the end.
    pub load: [String; 2],
    pub database: String,
    pub options: &'a RunOptions,
    pub machine: Machine,
    pub storage: StorageStats,
    pub oldest: DateTime<Utc>,
    pub queries: Vec<QueryResult>,
    pub writes: Option<WriteResult>,
    pub retention: Option<Vec<RetentionStep>>,
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
pub fn render(r: &Results<'_>) -> String {
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
