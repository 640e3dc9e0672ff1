//! Load generator for the collector (BENCHMARKS.md, "Collector"): realistic task spans over
//! OTLP/gRPC into a `tasklens collector` process, measuring sustained runs/s written to
//! PostgreSQL, ack latency, and the collector's peak RSS, next to a binary COPY of the same rows
//! in the same run.
//!
//! cargo build --release -p tasklens -p tasklens-bench
//! target/release/collector_load --runs 200000

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{TimeDelta, Utc};
use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use sqlx::Connection;
use tasklens_bench::load::{self, RunSpan};
use tasklens_bench::otlp::{request, text};
use tasklens_bench::stats::nearest_rank;
use tasklens_model::conventions as conv;
use tasklens_model::{RunKey, RunState, SourceSystem, TaskStatus};
use tasklens_store::{PgStore, PgStoreOptions, StoredRun, TaskStore};
use tokio::sync::Mutex;
use tonic_types::StatusExt;

/// The resource of the spans this client sends.
const SERVICE: &str = "load";
const HOST: &str = "load-host";

#[derive(Debug, Parser)]
struct Args {
    /// Server URL without a database name; the tool creates and drops its own databases.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    server_url: String,
    /// The tasklens binary to run as the collector.
    #[arg(long, default_value = "target/release/tasklens")]
    tasklens: String,
    /// Runs sent in the throughput phase (each a finished run span).
    #[arg(long, default_value_t = 200_000)]
    runs: u64,
    /// Spans per export request (the OpenTelemetry SDK's default batch is 512).
    #[arg(long, default_value_t = 512)]
    spans_per_request: u64,
    /// Concurrent senders.
    #[arg(long, default_value_t = 8)]
    senders: u64,
    /// Seconds of the fixed-rate phases (half load, 3x overload).
    #[arg(long, default_value_t = 20)]
    phase_secs: u64,
    /// Runs/s of the "half load" phase; default: half the full speed just measured. Fixing it
    /// lets two builds be compared at the same offered load.
    #[arg(long)]
    half_load_rate: Option<f64>,
    /// Concurrent senders of the 3x overload phase. The default keeps more spans in flight
    /// than the collector's queue holds, so that it must tell senders to retry.
    #[arg(long, default_value_t = 256)]
    overload_senders: u64,
    /// The collector's `--queue-capacity` (its default: 32,000 events).
    #[arg(long, default_value_t = 32_000)]
    queue_capacity: u64,
}

/// A traceback of about 1.5 KB, like a Python worker's.
fn traceback(n: u64) -> String {
    let mut t = String::from("Traceback (most recent call last):\n");
    for frame in 0..12 {
        t.push_str(&format!(
            "  File \"/app/tasks/module_{frame}.py\", line {}, in handler_{frame}\n    result = await client.call(payload)\n",
            100 + frame * 7
        ));
    }
    t.push_str(&format!(
        "openai.RateLimitError: rate limit exceeded for request {n}\n"
    ));
    t
}

/// The task id of run `n` of the load.
fn task_id(n: u64) -> String {
    format!("{n:08x}-load-{:04x}-{:012x}", n % 65_536, n * 31)
}

/// Run `n` of the load: its finished run span, 4% failed, with an exception event then.
fn run_span(n: u64, base_ns: u64) -> Span {
    let start = base_ns + n * 1_000;
    let mut trace_id = [7u8; 16];
    trace_id[8..].copy_from_slice(&n.to_be_bytes());
    let mut span = load::finished_run_span(&RunSpan {
        n,
        start_ns: start,
        trace_id,
        // n + 1: an all-zero span id is invalid (and refused by the collector).
        span_id: (n + 1).to_be_bytes(),
        task_id: &task_id(n),
        params: &format!(r#"{{"message_id": {n}, "batch": [1, 2, 3]}}"#),
    });
    if load::failed(n) {
        span.events.push(Event {
            name: conv::EXCEPTION_EVENT.into(),
            time_unix_nano: span.end_time_unix_nano,
            attributes: vec![
                text(conv::EXCEPTION_TYPE, "RateLimitError"),
                text(conv::EXCEPTION_MESSAGE, &load::failure_message(n)),
                text(conv::EXCEPTION_STACKTRACE, &traceback(n)),
            ],
            ..Default::default()
        });
    }
    span
}

/// The same run as the row the collector should write, for the COPY baseline.
fn run_row(n: u64, id: i64, base: chrono::DateTime<Utc>) -> StoredRun {
    let start = base + TimeDelta::microseconds(i64::try_from(n).unwrap_or(0));
    let duration = TimeDelta::milliseconds(i64::try_from(load::run_time_ms(n)).unwrap_or(0));
    let failed = load::failed(n);
    let mut state = RunState::new(
        RunKey {
            source: SourceSystem::Tasklens,
            task_id: task_id(n),
            attempt: 0,
        },
        load::task_name(n),
        if failed {
            TaskStatus::Failed
        } else {
            TaskStatus::Success
        },
    );
    state.enqueued_at = Some(start - TimeDelta::milliseconds(3));
    state.started_at = Some(start);
    state.completed_at = Some(start + duration);
    state.params = Some(serde_json::json!({"message_id": n, "batch": [1, 2, 3]}));
    state.service_name = Some("load".into());
    state.trace_id = Some([7; 16]);
    state.span_id = Some([1; 8]);
    if failed {
        state.error_message = Some(load::failure_message(n));
        state.error_type = Some("RateLimitError".into());
        state.error_traceback = Some(traceback(n));
    }
    StoredRun {
        id,
        created_at: start,
        updated_at: start,
        state,
    }
}

async fn fresh_database(server: &str, name: &str) -> Result<String> {
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    Ok(format!("{server}/{name}"))
}

struct Collector {
    child: Child,
    grpc: String,
    /// Kept open so the collector's last line ("collector stopped") has a reader.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Collector {
    fn start(tasklens: &str, url: &str, queue_capacity: u64) -> Result<Collector> {
        let mut child = Command::new(tasklens)
            .args([
                "collector",
                "--otlp-grpc-addr",
                "127.0.0.1:0",
                "--otlp-http-addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--queue-capacity",
                &queue_capacity.to_string(),
            ])
            .env("TASKLENS_DATABASE_URL", url)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!("cannot run {tasklens}: build it with cargo build --release -p tasklens")
            })?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut line)?;
        let grpc = line
            .split("OTLP/gRPC on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .ok_or_else(|| anyhow!("unexpected ready line {line:?}"))?;
        Ok(Collector {
            grpc: format!("http://{grpc}"),
            child,
            _stdout: stdout,
        })
    }

    /// Peak resident memory (VmHWM) in MiB.
    fn peak_rss_mib(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no VmHWM"))?;
        Ok(kib / 1024.0)
    }

    fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Mutex<Vec<u64>>,
    refusals: AtomicU64,
}

/// Sends request `index` (spans `first..first+count`) until it is accepted.
async fn send_until_accepted(
    client: &mut TraceServiceClient<tonic::transport::Channel>,
    spans: Vec<Span>,
    tally: &Tally,
) -> Result<()> {
    let export = request(SERVICE, HOST, spans);
    loop {
        // Built before the clock starts: the time to answer is the collector's, not the copy's.
        let attempt = export.clone();
        let started = Instant::now();
        match client.export(attempt).await {
            Ok(_) => {
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                tally.latencies_us.lock().await.push(us);
                return Ok(());
            }
            Err(status) if status.code() == tonic::Code::Unavailable => {
                tally.refusals.fetch_add(1, Ordering::Relaxed);
                // As OTLP exporters do: wait the RetryInfo delay the collector gave.
                let delay = status
                    .get_details_retry_info()
                    .and_then(|info| info.retry_delay)
                    .unwrap_or(Duration::from_millis(200));
                tokio::time::sleep(delay).await;
            }
            Err(status) => bail!("export failed: {status}"),
        }
    }
}

/// The nearest-rank quantile `q` of sorted latencies in µs, in ms; NaN when there are none.
fn percentile(sorted: &[u64], q: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    nearest_rank(sorted, q).map_or(f64::NAN, |us| us as f64 / 1000.0)
}

/// One phase of load: `runs` runs from `first`, by `senders` concurrent senders, as fast as
/// accepted (`rate` None) or at `rate` runs/s.
struct Phase {
    first: u64,
    runs: u64,
    senders: u64,
    rate: Option<f64>,
}

/// Sends a phase; returns its elapsed time.
async fn send_load(
    endpoint: &str,
    phase: Phase,
    spans_per_request: u64,
    base_ns: u64,
    tally: Arc<Tally>,
) -> Result<Duration> {
    let Phase {
        first,
        runs,
        senders,
        rate,
    } = phase;
    let requests = runs.div_ceil(spans_per_request);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let mut client = TraceServiceClient::connect(endpoint.to_owned()).await?;
        let (next, tally) = (next.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= requests {
                    return Ok::<(), anyhow::Error>(());
                }
                if let Some(rate) = rate {
                    #[allow(clippy::cast_precision_loss)]
                    let due = Duration::from_secs_f64((index * spans_per_request) as f64 / rate);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(started + due)).await;
                }
                let from = first + index * spans_per_request;
                let to = (from + spans_per_request).min(first + runs);
                let spans = (from..to).map(|n| run_span(n, base_ns)).collect();
                send_until_accepted(&mut client, spans, &tally).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

async fn stored_runs(url: &str) -> Result<i64> {
    let store = PgStore::connect(url, &PgStoreOptions::default()).await?;
    Ok(store.history(&Default::default()).await?.total_count)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let base = Utc::now();
    let base_ns = u64::try_from(base.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
    let mut report = String::new();
    let mut say = |line: String| {
        println!("{line}");
        report.push_str(&line);
        report.push('\n');
    };

    // 1. Baseline: binary COPY of the same rows into the same table.
    let copy_url = fresh_database(&args.server_url, "tasklens_load_copy").await?;
    let status = Command::new(&args.tasklens)
        .args(["migrate", "--database-url", &copy_url])
        .status()?;
    if !status.success() {
        bail!("migrate failed");
    }
    let store = PgStore::connect(&copy_url, &PgStoreOptions::default()).await?;
    let ids = store.reserve_ids(usize::try_from(args.runs)?).await?;
    let rows: Vec<StoredRun> = (0..args.runs)
        .zip(ids)
        .map(|(n, id)| run_row(n, id, base))
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(10_000) {
        store.copy_rows(chunk).await?;
    }
    let copy_rate = args.runs as f64 / started.elapsed().as_secs_f64();
    drop(rows);
    say(format!(
        "binary COPY: {} rows in {:.2?}: {copy_rate:.0} rows/s",
        args.runs,
        started.elapsed()
    ));

    // 2. Collector at full speed.
    let url = fresh_database(&args.server_url, "tasklens_load").await?;
    let collector = Collector::start(&args.tasklens, &url, args.queue_capacity)?;
    let tally = Arc::new(Tally::default());
    let elapsed = send_load(
        &collector.grpc,
        Phase {
            first: 0,
            runs: args.runs,
            senders: args.senders,
            rate: None,
        },
        args.spans_per_request,
        base_ns,
        tally.clone(),
    )
    .await?;
    let stored = stored_runs(&url).await?;
    let max_rate = args.runs as f64 / elapsed.as_secs_f64();
    let mut lat = tally.latencies_us.lock().await.clone();
    lat.sort_unstable();
    say(format!(
        "collector, full speed: {} runs in {elapsed:.2?}: {max_rate:.0} runs/s ({:.0}% of COPY); stored {stored}; ack p50 {:.1} ms p99 {:.1} ms; refusals {}",
        args.runs,
        100.0 * max_rate / copy_rate,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        tally.refusals.load(Ordering::Relaxed)
    ));

    // 3. Half that load at a fixed rate: ack latency.
    let half = args.half_load_rate.unwrap_or(max_rate / 2.0);
    let half_runs = (half * args.phase_secs as f64) as u64;
    let tally = Arc::new(Tally::default());
    let elapsed = send_load(
        &collector.grpc,
        Phase {
            first: args.runs,
            runs: half_runs,
            senders: args.senders,
            rate: Some(half),
        },
        args.spans_per_request,
        base_ns,
        tally.clone(),
    )
    .await?;
    let mut lat = tally.latencies_us.lock().await.clone();
    lat.sort_unstable();
    say(format!(
        "collector at half load ({half:.0} runs/s offered): {half_runs} runs in {elapsed:.2?}; ack p50 {:.1} ms p99 {:.1} ms; refusals {}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        tally.refusals.load(Ordering::Relaxed)
    ));

    // 4. Three times the load: senders are told to retry, memory stays bounded, nothing lost.
    let triple = max_rate * 3.0;
    let triple_runs = (triple * args.phase_secs as f64 / 3.0) as u64;
    let first = args.runs + half_runs;
    let tally = Arc::new(Tally::default());
    let elapsed = send_load(
        &collector.grpc,
        Phase {
            first,
            runs: triple_runs,
            senders: args.overload_senders,
            rate: Some(triple),
        },
        args.spans_per_request,
        base_ns,
        tally.clone(),
    )
    .await?;
    let rss = collector.peak_rss_mib()?;
    let stored = stored_runs(&url).await?;
    let expected = i64::try_from(first + triple_runs)?;
    say(format!(
        "collector at 3x ({triple:.0} runs/s offered): {triple_runs} runs in {elapsed:.2?}; refusals (UNAVAILABLE, retried) {}; stored {stored} of {expected}; peak RSS {rss:.0} MiB",
        tally.refusals.load(Ordering::Relaxed)
    ));
    if stored != expected {
        bail!("runs lost: {stored} stored of {expected}");
    }
    collector.stop()?;
    std::fs::write("collector-load-results.txt", report)?;
    Ok(())
}
