//! Measures the embedded store: batch write throughput and query latency as the file grows.
//!
//! `cargo run --release -p tasklens-store --example sqlite_figures -- [runs] [path]`
//! (default 1,000,000 runs, in a temporary directory).

use std::path::PathBuf;
use std::time::{Duration, Instant};
use tasklens_model::TaskTypeFilter;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::json;
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{HistoryQuery, SqliteStore, TaskStore, TimeseriesQuery};

const TASKS: [&str; 8] = [
    "score_message",
    "embed_messages_batch",
    "embed_atoms_batch",
    "extract_knowledge_from_messages",
    "scheduled_daily_digest",
    "ingest_telegram_messages",
    "scheduled_auto_approval",
    "send_notification",
];
const BATCH: usize = 2_000;

fn run_events(i: usize, t0: DateTime<Utc>) -> [TaskRunEvent; 2] {
    let key = RunKey {
        source: SourceSystem::Celery,
        task_id: format!("{i:08x}-6f1e-4c3a-9d7b-{i:012x}"),
        attempt: 0,
    };
    let name = TASKS[i % TASKS.len()];
    let started = t0 + TimeDelta::milliseconds(40 + (i % 500) as i64);
    let completed = started + TimeDelta::milliseconds(200 + (i * 7919 % 5000) as i64);
    let failed = i.is_multiple_of(20);
    let pending = TaskRunEvent {
        observed_at: t0,
        run: RunState {
            enqueued_at: Some(t0),
            params: Some(json!({"message_id": i, "chat_id": 42})),
            queue: Some("default".into()),
            ..RunState::new(key.clone(), name, TaskStatus::Pending)
        },
    };
    let status = if failed {
        TaskStatus::Failed
    } else {
        TaskStatus::Success
    };
    let finished = TaskRunEvent {
        observed_at: completed,
        run: RunState {
            started_at: Some(started),
            completed_at: Some(completed),
            error_message: failed.then(|| format!("OpenAI API rate limit exceeded (request {i})")),
            worker_host: Some("worker-1".into()),
            trace_id: Some([7; 16]),
            span_id: Some([9; 8]),
            ..RunState::new(key, name, status)
        },
    };
    [pending, finished]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn median_ms<F, Fut>(mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        f().await;
        samples.push(ms(t.elapsed()));
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("tasklens.db"));
    let store = SqliteStore::open(&path).await?;
    let now = Utc::now().duration_trunc(TimeDelta::milliseconds(1))?;
    // Runs spread evenly over the last 30 days, written oldest first.
    let span = TimeDelta::days(30).num_milliseconds() / total.max(1) as i64;
    let at = |i: usize| now - TimeDelta::days(30) + TimeDelta::milliseconds(span * i as i64);

    let mut insert_times = Vec::new();
    let mut update_times = Vec::new();
    let mut start = 0;
    let begin = Instant::now();
    while start < total {
        let end = (start + BATCH).min(total);
        let lives: Vec<[TaskRunEvent; 2]> = (start..end).map(|i| run_events(i, at(i))).collect();
        // Every fifth batch: pending first, then the finish reports (an update of each row).
        if (start / BATCH).is_multiple_of(5) {
            let t = Instant::now();
            store
                .write_batch(lives.iter().map(|l| l[0].clone()).collect())
                .await?;
            insert_times.push(ms(t.elapsed()));
            let t = Instant::now();
            store
                .write_batch(lives.iter().map(|l| l[1].clone()).collect())
                .await?;
            update_times.push(ms(t.elapsed()));
        } else {
            let t = Instant::now();
            store
                .write_batch(lives.into_iter().flatten().collect())
                .await?;
            insert_times.push(ms(t.elapsed()));
        }
        start = end;
    }
    let filled = begin.elapsed();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (ins, upd) = (median(&mut insert_times), median(&mut update_times));
    println!("runs: {total}; filled in {:.1} s", filled.as_secs_f64());
    println!(
        "2,000-run batch, new runs: median {ins:.1} ms ({:.0} runs/s); finishing existing runs: median {upd:.1} ms ({:.0} runs/s)",
        BATCH as f64 / ins * 1000.0,
        BATCH as f64 / upd * 1000.0
    );
    // Live traffic: every run of a batch created within the last minute (few rollup rows).
    let mut live_times = Vec::new();
    for b in 0..10 {
        let events: Vec<TaskRunEvent> = (0..BATCH)
            .flat_map(|i| run_events(total + b * BATCH + i, now - TimeDelta::seconds(30)))
            .collect();
        let t = Instant::now();
        store.write_batch(events).await?;
        live_times.push(ms(t.elapsed()));
    }
    let live = median(&mut live_times);
    println!(
        "2,000-run batch, all created in the same minute: median {live:.1} ms ({:.0} runs/s)",
        BATCH as f64 / live * 1000.0
    );
    let size = std::fs::metadata(&path)?.len();
    println!(
        "file: {:.0} MB ({:.0} bytes per run)",
        size as f64 / 1e6,
        size as f64 / total as f64
    );

    let s = &store;
    let metrics_24h = median_ms(|| async move {
        s.metrics(now - TimeDelta::hours(24), &TaskTypeFilter::default())
            .await
            .expect("metrics");
    })
    .await;
    let metrics_30d = median_ms(|| async move {
        s.metrics(
            now - TimeDelta::days(30) + TimeDelta::seconds(17),
            &TaskTypeFilter::default(),
        )
        .await
        .expect("metrics");
    })
    .await;
    let history_first = median_ms(|| async move {
        s.history(&HistoryQuery::default()).await.expect("history");
    })
    .await;
    let history_filtered = median_ms(|| async move {
        s.history(&HistoryQuery {
            task_name: Some(TASKS[3].into()),
            status: Some(TaskStatus::Failed),
            start: Some(now - TimeDelta::days(7)),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    })
    .await;
    let history_page_100 = median_ms(|| async move {
        s.history(&HistoryQuery {
            page: 100,
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    })
    .await;
    let text_common = median_ms(|| async move {
        s.history(&HistoryQuery {
            text: Some("rate limit".into()),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    })
    .await;
    let text_rare = median_ms(|| async move {
        s.history(&HistoryQuery {
            text: Some("request 777780)".into()),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    })
    .await;
    let task_id = median_ms(|| async move {
        s.history(&HistoryQuery {
            text: Some(format!("{:08x}-6f1e", 12_345)),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    })
    .await;
    let chart_7d = median_ms(|| async move {
        s.timeseries(&TimeseriesQuery {
            start: now - TimeDelta::days(7),
            end: None,
            task_type: TaskTypeFilter::default(),
            granularity: None,
        })
        .await
        .expect("timeseries");
    })
    .await;
    println!("metrics 24 h: {metrics_24h:.1} ms; 30 d (unaligned): {metrics_30d:.1} ms");
    println!(
        "history page 1: {history_first:.1} ms; page 100: {history_page_100:.1} ms; task+status+7 d: {history_filtered:.1} ms"
    );
    println!(
        "free text, common (capped count): {text_common:.1} ms; rare error text: {text_rare:.1} ms; task id prefix: {task_id:.1} ms"
    );
    println!("timeseries 7 d (hour buckets): {chart_7d:.1} ms");
    store.close().await;
    Ok(())
}
