//! Load client for the dashboard API (BENCHMARKS.md, "Dashboard API (issue 5)" and "Live feed
//! (issue 5)"). It talks to running processes only, over HTTP, WebSocket and OTLP/gRPC:
//!
//! - `http`: N concurrent clients call each endpoint (after a warm-up call per client) and the
//!   latencies are reported as nearest-rank percentiles, endpoint by endpoint.
//! - `live`: N WebSocket clients on `/api/v1/monitoring/ws` while finished-run spans are sent at
//!   a fixed rate to a `tasklens collector`; each client measures its receive time minus the
//!   message's `timestamp` (the run's `updated_at`, set by the store when it writes the batch),
//!   and counts resyncs and messages it never got.
//!
//! cargo build --release -p tasklens -p tasklens-bench
//! target/release/api_load http --base-url http://127.0.0.1:18080
//! target/release/api_load live --base-url http://127.0.0.1:18080 --otlp http://127.0.0.1:14317

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use tasklens_bench::load::{self, RunSpan};
use tasklens_bench::otlp::request;
use tasklens_bench::stats::nearest_rank;
use tasklens_store::{LiveUpdate, PgStore, PgStoreOptions, TaskStore};
use tokio_tungstenite::tungstenite::Message;

/// The resource of the spans this client sends.
const SERVICE: &str = "live-load";
const HOST: &str = "load";

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Latency of the REST endpoints under N concurrent clients.
    Http {
        /// The API, e.g. http://127.0.0.1:18080
        #[arg(long)]
        base_url: String,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Timed calls per client and endpoint (after one untimed warm-up call each).
        #[arg(long, default_value_t = 20)]
        calls_per_client: usize,
        /// Task-id prefix for the free-text query; taken from the first history row if absent.
        #[arg(long)]
        task_id_prefix: Option<String>,
        /// Only the endpoints whose label contains this.
        #[arg(long)]
        only: Option<String>,
    },
    /// Live feed latency: WebSocket clients while spans go through a collector at a fixed rate.
    Live {
        #[arg(long)]
        base_url: String,
        /// The collector's OTLP/gRPC endpoint, e.g. http://127.0.0.1:14317
        #[arg(long)]
        otlp: String,
        #[arg(long, default_value_t = 200)]
        clients: usize,
        /// Finished runs per second sent to the collector.
        #[arg(long, default_value_t = 5000.0)]
        rate: f64,
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// Spans per export request (the OpenTelemetry SDK's default batch is 512).
        #[arg(long, default_value_t = 500)]
        spans_per_request: u64,
        /// Seconds to wait for the last messages after sending ends.
        #[arg(long, default_value_t = 5)]
        drain_secs: u64,
        /// The collector's database: a separate LISTEN connection there records when each
        /// run's commit notification arrives, and latencies are also reported from that moment.
        #[arg(long)]
        database_url: Option<String>,
    },
}

/// The nearest-rank quantile `q` of sorted figures; NaN when there are none.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    nearest_rank(sorted, q).unwrap_or(f64::NAN)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn http(
    base: &str,
    clients: usize,
    calls: usize,
    prefix: Option<String>,
    only: Option<String>,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(120))
        .build()?;
    let prefix = match prefix {
        Some(p) => p,
        None => {
            // A task id from the middle of the data: the first row of page 2,000 of 7 days back.
            let start = (Utc::now() - chrono::TimeDelta::days(15)).to_rfc3339();
            let url = format!(
                "{base}/api/v1/monitoring/history?page_size=1&end_date={}",
                enc(&start)
            );
            let body: serde_json::Value = client.get(url).send().await?.json().await?;
            let id = body["items"][0]["task_id"]
                .as_str()
                .context(format!("no task id in {body}"))?;
            id[..8].to_owned()
        }
    };
    let week = enc(&(Utc::now() - chrono::TimeDelta::days(7)).to_rfc3339());
    let month = enc(&(Utc::now() - chrono::TimeDelta::days(30)).to_rfc3339());
    let endpoints: Vec<(String, String)> = vec![
        ("metrics, 24 h".into(), "metrics?time_window=24".into()),
        ("metrics, 7 d".into(), "metrics?time_window=168".into()),
        ("metrics, 30 d".into(), "metrics?time_window=720".into()),
        (
            "history: score_message + failed, 7 d".into(),
            format!("history?task_name=score_message&status=failed&start_date={week}"),
        ),
        (
            "history: 7 d, no filter".into(),
            format!("history?start_date={week}"),
        ),
        (
            "history: status=pending, 30 d".into(),
            format!("history?status=pending&start_date={month}"),
        ),
        (
            "history: status=running, 30 d".into(),
            format!("history?status=running&start_date={month}"),
        ),
        ("stuck".into(), "stuck".into()),
        ("errors, 24 h".into(), "errors?time_window=24".into()),
        ("errors, 7 d".into(), "errors?time_window=168".into()),
        ("errors, 30 d".into(), "errors?time_window=720".into()),
        (
            "history: q=rate limit".into(),
            "history?q=rate%20limit".into(),
        ),
        (
            format!("history: q={prefix} (task-id prefix)"),
            format!("history?q={}", enc(&prefix)),
        ),
    ];
    println!(
        "| endpoint | total / matches | p50 ms | p95 ms | p99 ms | max ms | calls/s | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (label, path) in endpoints {
        if only.as_deref().is_some_and(|o| !label.contains(o)) {
            continue;
        }
        let url = format!("{base}/api/v1/monitoring/{path}");
        // What the endpoint matches, from one untimed call.
        let body: serde_json::Value = client.get(&url).send().await?.json().await?;
        let matches = match body.get("total_count") {
            Some(total) => total.to_string(),
            None if body.get("runs").is_some() => {
                body["runs"].as_array().map_or(0, Vec::len).to_string()
            }
            None => body["metrics"]
                .as_array()
                .map_or(0, |m| {
                    m.iter()
                        .filter_map(|t| t["total_executions"].as_i64())
                        .sum::<i64>()
                })
                .to_string(),
        };
        let errors = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(clients));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, url, errors, barrier) =
                (client.clone(), url.clone(), errors.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                // Warm-up: opens this client's connection.
                let _ = client
                    .get(&url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                barrier.wait().await;
                let mut times = Vec::with_capacity(calls);
                for _ in 0..calls {
                    let t = Instant::now();
                    let ok = match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                times
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await?);
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_by(f64::total_cmp);
        #[allow(clippy::cast_precision_loss)]
        let rate = all.len() as f64 / elapsed;
        println!(
            "| {label} | {matches} | {:.1} | **{:.1}** | {:.1} | {:.1} | {rate:.0} | {} |",
            percentile(&all, 0.5),
            percentile(&all, 0.95),
            percentile(&all, 0.99),
            all.last().copied().unwrap_or(f64::NAN),
            errors.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// Finished run `n` of this invocation (`tag` keeps task ids unique across invocations).
fn run_span(n: u64, tag: u64, start_ns: u64) -> Span {
    let mut span_id = (n + 1).to_be_bytes();
    span_id[0] = 0x5a;
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&tag.to_be_bytes());
    trace_id[8..].copy_from_slice(&n.to_be_bytes());
    load::finished_run_span(&RunSpan {
        n,
        start_ns,
        trace_id,
        span_id,
        task_id: &format!("live-{tag:x}-{n:010}"),
        params: &format!(r#"{{"message_id": {n}}}"#),
    })
}

#[derive(Debug, Default)]
struct ClientResult {
    latencies_ms: Vec<f64>,
    /// Receive time minus the time a separate listener saw the commit's notification.
    from_commit_ms: Vec<f64>,
    /// Runs whose notification had not been seen yet when the client got them: (index, µs).
    unresolved: Vec<(usize, i64)>,
    /// Status changes of this run's spans (one per run: each span is a finished run).
    received: u64,
    resyncs: u64,
    other: u64,
}

/// The text of a string field in a server message, found without parsing the whole message:
/// 200 clients on the same 2 cores must not spend the machine parsing JSON. `pattern` is the
/// field's key with its quotes, colon and opening quote (`"task_id":"`).
fn string_field<'a>(body: &'a str, pattern: &str) -> Option<&'a str> {
    let start = body.find(pattern)? + pattern.len();
    let len = body[start..].find('"')?;
    Some(&body[start..start + len])
}

/// The run number in a task id of this run (`live-{tag}-{n}`).
fn run_index(task_id: &str, prefix: &str) -> Option<usize> {
    task_id.strip_prefix(prefix)?.parse().ok()
}

/// Records, per run of this load, when a LISTEN connection of its own received the run's
/// notification: PostgreSQL delivers it at commit, so this is the commit as a listener sees it.
async fn watch_commits(
    database_url: &str,
    prefix: String,
    commit_seen: Arc<Vec<AtomicI64>>,
) -> Result<tokio::task::JoinHandle<u64>> {
    let store = PgStore::connect(database_url, &PgStoreOptions::default()).await?;
    let mut subscription = store.subscribe().await?;
    Ok(tokio::spawn(async move {
        let mut missed = 0;
        loop {
            match subscription.recv().await {
                Ok(LiveUpdate::Events(events)) => {
                    let now = Utc::now().timestamp_micros();
                    for event in events {
                        if let Some(slot) =
                            run_index(&event.task_id, &prefix).and_then(|n| commit_seen.get(n))
                        {
                            slot.store(now, Ordering::Relaxed);
                        }
                    }
                }
                Ok(LiveUpdate::Missed) => missed += 1,
                Err(_) => return missed,
            }
        }
    }))
}

#[allow(clippy::too_many_arguments)]
async fn live(
    base: &str,
    otlp: &str,
    clients: usize,
    rate: f64,
    secs: u64,
    spans_per_request: u64,
    drain_secs: u64,
    database_url: Option<&str>,
) -> Result<()> {
    let ws_url = format!(
        "{}/api/v1/monitoring/ws",
        base.replacen("http://", "ws://", 1)
    );
    let tag = u64::try_from(Utc::now().timestamp_micros()).unwrap_or(1);
    let prefix = format!("live-{tag:x}-");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = (rate * secs as f64) as u64;
    let commit_seen: Arc<Vec<AtomicI64>> = Arc::new(
        (0..usize::try_from(total)?)
            .map(|_| AtomicI64::new(0))
            .collect(),
    );
    let watcher = match database_url {
        Some(url) => Some(watch_commits(url, prefix.clone(), commit_seen.clone()).await?),
        None => None,
    };
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .with_context(|| format!("connect {ws_url}"))?;
        let (stop, prefix, commit_seen) = (stop.clone(), prefix.clone(), commit_seen.clone());
        tasks.push(tokio::spawn(async move {
            let mut r = ClientResult::default();
            let stopped = stop.notified();
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    () = &mut stopped => break,
                    msg = ws.next() => {
                        let Some(Ok(msg)) = msg else { break };
                        let received = Utc::now();
                        let Message::Text(body) = msg else { continue };
                        let body = body.as_str();
                        match string_field(body, r#""type":""#) {
                            Some("task_status_changed") => {
                                let Some(id) = string_field(body, r#""task_id":""#) else { continue };
                                if !id.starts_with(&prefix) { r.other += 1; continue; }
                                if let Some(ts) = string_field(body, r#""timestamp":""#).and_then(|t| t.parse::<DateTime<Utc>>().ok()) {
                                    #[allow(clippy::cast_precision_loss)]
                                    r.latencies_ms.push((received - ts).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                                }
                                if let Some(n) = run_index(id, &prefix) {
                                    let received = received.timestamp_micros();
                                    match commit_seen.get(n).map(|c| c.load(Ordering::Relaxed)) {
                                        #[allow(clippy::cast_precision_loss)]
                                        Some(seen) if seen > 0 => r.from_commit_ms.push((received - seen) as f64 / 1000.0),
                                        _ => r.unresolved.push((n, received)),
                                    }
                                }
                                r.received += 1;
                            }
                            Some("resync") => r.resyncs += 1,
                            _ => {}
                        }
                    }
                }
            }
            r
        }));
    }
    println!("{clients} WebSocket clients connected to {ws_url}");
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Sender: one gRPC client per 1,000 runs/s of rate (at least one), requests due on a schedule.
    let requests = total.div_ceil(spans_per_request);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let senders = ((rate / 1000.0).ceil() as u64).clamp(1, 8);
    let next = Arc::new(AtomicU64::new(0));
    let late = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders_tasks = Vec::new();
    for _ in 0..senders {
        let mut client = TraceServiceClient::connect(otlp.to_owned()).await?;
        let (next, late) = (next.clone(), late.clone());
        senders_tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= requests {
                    return Ok::<(), anyhow::Error>(());
                }
                #[allow(clippy::cast_precision_loss)]
                let due =
                    started + Duration::from_secs_f64((index * spans_per_request) as f64 / rate);
                if Instant::now() > due + Duration::from_millis(100) {
                    late.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                let now_ns = u64::try_from(Utc::now().timestamp_nanos_opt().unwrap_or(0))?;
                let from = index * spans_per_request;
                let to = (from + spans_per_request).min(total);
                let spans: Vec<Span> = (from..to)
                    .map(|n| run_span(n, tag, now_ns - 2_000_000_000))
                    .collect();
                loop {
                    match client.export(request(SERVICE, HOST, spans.clone())).await {
                        Ok(_) => break,
                        Err(s)
                            if s.code() == tonic::Code::ResourceExhausted
                                || s.code() == tonic::Code::Unavailable =>
                        {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(s) => bail!("export failed: {s}"),
                    }
                }
            }
        }));
    }
    for t in senders_tasks {
        t.await??;
    }
    let send_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(drain_secs)).await;
    stop.notify_waiters();
    let mut all = Vec::new();
    let mut from_commit = Vec::new();
    let (mut resyncs, mut missed, mut complete, mut other) = (0u64, 0u64, 0usize, 0u64);
    for t in tasks {
        let mut r = t.await?;
        for (n, received) in r.unresolved.drain(..) {
            // Got before the listener saw the commit (or the listener missed it): the client
            // was faster than a second listener, so count it from the later of the two.
            let seen = commit_seen.get(n).map_or(0, |c| c.load(Ordering::Relaxed));
            #[allow(clippy::cast_precision_loss)]
            from_commit.push(if seen > 0 {
                (received - seen) as f64 / 1000.0
            } else {
                0.0
            });
        }
        from_commit.extend(r.from_commit_ms);
        resyncs += r.resyncs;
        other += r.other;
        let got = r.received;
        missed += total.saturating_sub(got);
        if got >= total {
            complete += 1;
        }
        all.extend(r.latencies_ms);
    }
    all.sort_by(f64::total_cmp);
    from_commit.sort_by(f64::total_cmp);
    let commits_seen = commit_seen
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) > 0)
        .count();
    #[allow(clippy::cast_precision_loss)]
    let sent_rate = total as f64 / send_secs;
    println!(
        "sent {total} finished runs in {send_secs:.1} s ({sent_rate:.0} runs/s, {} requests late > 100 ms) to {otlp}",
        late.load(Ordering::Relaxed)
    );
    println!(
        "messages received: {} ({} expected = runs x clients); clients with every run: {complete}/{clients}; missed: {missed}; resyncs: {resyncs}; other messages: {other}",
        all.len(),
        total * clients as u64
    );
    println!("| latency from | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |label: &str, sorted: &[f64]| {
        println!(
            "| {label} | {:.1} | {:.1} | **{:.1}** | {:.1} | {:.1} |",
            percentile(sorted, 0.5),
            percentile(sorted, 0.9),
            percentile(sorted, 0.99),
            percentile(sorted, 0.999),
            sorted.last().copied().unwrap_or(f64::NAN)
        );
    };
    row("the run's updated_at (batch start)", &all);
    if let Some(watcher) = watcher {
        row(
            "the commit's notification at a second listener",
            &from_commit,
        );
        watcher.abort();
        println!("commit notifications seen for {commits_seen} of {total} runs");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Args::parse().command {
        Cmd::Http {
            base_url,
            clients,
            calls_per_client,
            task_id_prefix,
            only,
        } => http(&base_url, clients, calls_per_client, task_id_prefix, only).await,
        Cmd::Live {
            base_url,
            otlp,
            clients,
            rate,
            secs,
            spans_per_request,
            drain_secs,
            database_url,
        } => {
            live(
                &base_url,
                &otlp,
                clients,
                rate,
                secs,
                spans_per_request,
                drain_secs,
                database_url.as_deref(),
            )
            .await
        }
    }
}
