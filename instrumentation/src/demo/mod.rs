//! The demo worker behind `tasklens demo` (and `examples/worker.rs`): the ten demo task types of
//! the [`catalogue`] at a steady rate, with realistic params and durations, a few failures with
//! real error chains, some retries and some slow runs, sent to any OTLP endpoint through this
//! crate's own API.
//!
//! What each run does is planned up front by pure functions ([`plan_run`]); [`run`] only plays
//! the plans out in time.

pub mod catalogue;
mod errors;
mod plan;

pub use catalogue::{Failure, TASK_TYPES, TaskType};
pub use errors::{DemoTaskError, FailureKind, HttpError};
pub use plan::{PlannedAttempt, PlannedRun, plan_run};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::task::JoinSet;

use crate::setup::{OtlpProtocol, SetupError};
use crate::tracker::{TaskRun, Tracker};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// New task runs per second.
    pub rate_per_sec: f64,
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    /// Bearer token for a collector that asks for one.
    pub token: Option<String>,
    /// Stop after this long; `None`: until shutdown.
    pub duration: Option<Duration>,
    /// Share of attempts that fail, in percent.
    pub failure_percent: f64,
    pub service_name: String,
    /// How long to wait for runs in flight after stopping; the rest are cancelled (and reported
    /// as failed).
    pub drain_timeout: Duration,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            rate_per_sec: 5.0,
            endpoint: "http://127.0.0.1:4317".to_owned(),
            protocol: OtlpProtocol::Grpc,
            token: None,
            duration: None,
            failure_percent: 4.0,
            service_name: "tasklens-demo".to_owned(),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the rate must be a positive number of runs per second, not {0}")]
    Rate(f64),
    #[error("the failure percentage must be between 0 and 100, not {0}")]
    FailurePercent(f64),
    #[error("the OpenTelemetry pipeline cannot be set up")]
    Setup(#[from] SetupError),
}

/// What the demo did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Tasks enqueued (first attempts).
    pub tasks: u64,
    /// Attempts run, retries included.
    pub attempts: u64,
    pub failed_attempts: u64,
    /// Spans lost on the way to the collector.
    pub dropped_spans: u64,
}

/// Runs the demo worker until `duration` passes or `shutdown` completes.
pub async fn run(
    config: DemoConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<DemoSummary, DemoError> {
    if !(config.rate_per_sec.is_finite() && config.rate_per_sec > 0.0) {
        return Err(DemoError::Rate(config.rate_per_sec));
    }
    if !(0.0..=100.0).contains(&config.failure_percent) {
        return Err(DemoError::FailurePercent(config.failure_percent));
    }
    let mut builder = crate::Tracker::builder()
        .endpoint(config.endpoint.clone())
        .protocol(config.protocol)
        .service_name(config.service_name.clone());
    if let Some(token) = &config.token {
        builder = builder.token(token.clone());
    }
    let guard = builder.install()?;
    let tracker = guard.tracker().clone();

    let mut rng = StdRng::from_os_rng();
    let mut summary = DemoSummary::default();
    let mut in_flight = JoinSet::new();
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(
        1.0 / config.rate_per_sec.min(10_000.0),
    ));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop_after = async {
        match config.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop_after);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut stop_after => break,
            () = &mut shutdown => break,
            _ = ticks.tick() => {
                let plan = plan_run(&mut rng, config.failure_percent, chrono::Utc::now());
                summary.tasks += 1;
                summary.attempts += plan.attempts.len() as u64;
                in_flight.spawn(play(tracker.clone(), plan, failed.clone()));
                // Reap finished runs so the set stays small.
                while in_flight.try_join_next().is_some() {}
            }
        }
    }
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // Dropping the rest records them as cancelled.
        in_flight.shutdown().await;
    }
    summary.failed_attempts = failed.load(std::sync::atomic::Ordering::Relaxed);
    guard.flush().await;
    summary.dropped_spans = tracker.dropped_spans();
    guard.shutdown().await;
    Ok(summary)
}

/// Plays one planned run: enqueue, wait in the queue, run each attempt.
async fn play(tracker: Tracker, plan: PlannedRun, failed: Arc<std::sync::atomic::AtomicU64>) {
    for (attempt, planned) in plan.attempts.iter().enumerate() {
        let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
        let run = TaskRun::new(plan.task.name, plan.task_id.clone())
            .params_lossy(&plan.params)
            .attempt(attempt)
            .queue(plan.task.queue);
        let headers = tracker.enqueue_run(&run);
        tokio::time::sleep(planned.queue_delay).await;
        let outcome = tracker
            .run(run.headers(&headers), async {
                tokio::time::sleep(planned.duration).await;
                match planned.failure {
                    Some(kind) => Err(kind.error()),
                    None => Ok(()),
                }
            })
            .await;
        if outcome.is_err() {
            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
