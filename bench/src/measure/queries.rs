//! Query latency: the dashboard's queries, each timed alone (one client) and under concurrent
//! clients sharing one store.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tasklens_model::TaskTypeFilter;

use anyhow::{Context, Result};
use chrono::{TimeDelta, Utc};
use tasklens_bench::stats::Latency;
use tasklens_model::TaskStatus;
use tasklens_store::{HistoryQuery, PgStore, PgStoreOptions, TaskStore};
use tokio::sync::Barrier;

use super::options::RunOptions;

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
                let metrics = store
                    .metrics(now - *window, &TaskTypeFilter::default())
                    .await?;
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
pub struct ProbeSpec {
    pub label: String,
    probe: Probe,
    /// p95 target, ms.
    pub target_ms: f64,
}

#[derive(Debug)]
pub struct QueryResult {
    pub spec: ProbeSpec,
    pub matches: i64,
    pub alone: Latency,
    pub loaded: Option<(Latency, f64)>,
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

/// Times each query alone and then, unless `skip_load`, under concurrent clients.
/// `task_id_prefix`: the start of a task id in the data, for the free-text query.
pub async fn measure_queries(
    store: &PgStore,
    options: &RunOptions,
    task_id_prefix: &str,
) -> Result<Vec<QueryResult>> {
    let mut queries = Vec::new();
    for spec in probes(task_id_prefix) {
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
    if !options.skip_load {
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
    Ok(queries)
}
