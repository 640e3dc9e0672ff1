//! The demo worker behind `tasklens demo` (and `examples/worker.rs`): the seed's ten task types
//! at a steady rate, with realistic params and durations, a few failures with real error chains,
//! some retries and some slow runs, sent to any OTLP endpoint through this crate's own API.
//!
//! What each run does is planned up front by pure functions ([`plan_run`]); [`run`] only plays
//! the plans out in time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
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

/// One of the seed's task types and how its runs behave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskType {
    pub name: &'static str,
    /// Relative frequency.
    pub weight: u32,
    /// Median run time in milliseconds; durations are log-normal around it.
    pub median_ms: f64,
    pub queue: &'static str,
}

/// The ten task types of the seed application.
pub const TASK_TYPES: [TaskType; 10] = [
    TaskType {
        name: "ingest_telegram_messages",
        weight: 8,
        median_ms: 1800.0,
        queue: "ingest",
    },
    TaskType {
        name: "embed_messages_batch",
        weight: 12,
        median_ms: 900.0,
        queue: "embeddings",
    },
    TaskType {
        name: "embed_atoms_batch",
        weight: 8,
        median_ms: 700.0,
        queue: "embeddings",
    },
    TaskType {
        name: "score_message",
        weight: 30,
        median_ms: 350.0,
        queue: "scoring",
    },
    TaskType {
        name: "score_unscored_messages",
        weight: 4,
        median_ms: 2500.0,
        queue: "scoring",
    },
    TaskType {
        name: "extract_knowledge_from_messages",
        weight: 10,
        median_ms: 3000.0,
        queue: "knowledge",
    },
    TaskType {
        name: "scheduled_knowledge_extraction",
        weight: 2,
        median_ms: 1200.0,
        queue: "scheduled",
    },
    TaskType {
        name: "scheduled_auto_approval",
        weight: 2,
        median_ms: 600.0,
        queue: "scheduled",
    },
    TaskType {
        name: "scheduled_notification_alert",
        weight: 3,
        median_ms: 250.0,
        queue: "scheduled",
    },
    TaskType {
        name: "scheduled_daily_digest",
        weight: 1,
        median_ms: 2000.0,
        queue: "scheduled",
    },
];

/// An HTTP call that failed.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status} {reason} from {url}")]
pub struct HttpError {
    pub status: u16,
    pub reason: &'static str,
    pub url: &'static str,
    #[source]
    pub source: Option<std::io::Error>,
}

/// The errors of the demo's tasks, with real source chains.
#[derive(Debug, thiserror::Error)]
pub enum DemoTaskError {
    #[error("OpenAI API rate limit exceeded")]
    RateLimited {
        #[source]
        source: HttpError,
    },
    #[error("Telegram API flood wait: retry in {seconds} s")]
    FloodWait {
        seconds: u32,
        #[source]
        source: HttpError,
    },
    #[error("the model's answer is not valid JSON")]
    InvalidModelOutput {
        #[source]
        source: serde_json::Error,
    },
    #[error("database query failed: {query}")]
    Database {
        query: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("notification to {channel} could not be delivered")]
    Delivery {
        channel: &'static str,
        #[source]
        source: HttpError,
    },
}

/// Which error an attempt fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    RateLimited,
    FloodWait(u32),
    InvalidModelOutput,
    Database,
    Delivery,
}

impl FailureKind {
    /// A transient failure is retried.
    pub fn is_transient(self) -> bool {
        matches!(self, FailureKind::RateLimited | FailureKind::FloodWait(_))
    }

    pub fn error(self) -> DemoTaskError {
        match self {
            FailureKind::RateLimited => DemoTaskError::RateLimited {
                source: HttpError {
                    status: 429,
                    reason: "Too Many Requests",
                    url: "https://api.openai.com/v1/chat/completions",
                    source: Some(std::io::Error::other(
                        "Rate limit reached for gpt-4o-mini: limit 500 RPM, used 500; retry after 20s",
                    )),
                },
            },
            FailureKind::FloodWait(seconds) => DemoTaskError::FloodWait {
                seconds,
                source: HttpError {
                    status: 420,
                    reason: "FLOOD_WAIT",
                    url: "https://api.telegram.org/messages.getHistory",
                    source: None,
                },
            },
            FailureKind::InvalidModelOutput => {
                match serde_json::from_str::<Value>(r#"{"score": 0.87, "reason": "spam"#) {
                    Err(source) => DemoTaskError::InvalidModelOutput { source },
                    Ok(_) => FailureKind::Database.error(),
                }
            }
            FailureKind::Database => DemoTaskError::Database {
                query: "UPDATE messages SET score = $1 WHERE id = $2",
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "canceling statement due to statement timeout",
                ),
            },
            FailureKind::Delivery => DemoTaskError::Delivery {
                channel: "telegram",
                source: HttpError {
                    status: 502,
                    reason: "Bad Gateway",
                    url: "https://api.telegram.org/bot/sendMessage",
                    source: Some(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "connection reset by peer",
                    )),
                },
            },
        }
    }
}

/// One attempt of a planned run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAttempt {
    /// Wait in the queue before the attempt starts (for retries: the backoff).
    pub queue_delay: Duration,
    pub duration: Duration,
    pub failure: Option<FailureKind>,
}

/// A task run planned up front: what it is and how each attempt goes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    pub task: TaskType,
    pub task_id: String,
    pub params: Value,
    pub attempts: Vec<PlannedAttempt>,
}

/// Retries after a transient failure: attempts 0, 1 and 2 at most.
const MAX_ATTEMPTS: usize = 3;

/// Plans one run: a task type by weight, its params, its attempts.
pub fn plan_run(rng: &mut impl Rng, failure_percent: f64) -> PlannedRun {
    let total: u32 = TASK_TYPES.iter().map(|t| t.weight).sum();
    let mut pick = rng.random_range(0..total);
    let mut task = TASK_TYPES[0];
    for candidate in TASK_TYPES {
        if pick < candidate.weight {
            task = candidate;
            break;
        }
        pick -= candidate.weight;
    }
    let task_id = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0xfff,
        rng.random::<u16>(),
        rng.random::<u64>() & 0xffff_ffff_ffff
    );
    let params = params_for(task.name, rng);
    let mut attempts = Vec::new();
    let failure_share = (failure_percent / 100.0).clamp(0.0, 1.0);
    loop {
        let first = attempts.is_empty();
        let queue_delay = if first {
            log_normal(rng, 40.0, 1.0).min(5_000.0)
        } else {
            rng.random_range(300.0..1_500.0)
        };
        let failure = rng
            .random_bool(failure_share)
            .then(|| failure_for(task.name, rng));
        attempts.push(PlannedAttempt {
            queue_delay: Duration::from_millis(queue_delay as u64),
            duration: Duration::from_millis(run_time_ms(rng, task.median_ms) as u64),
            failure,
        });
        match failure {
            Some(kind) if kind.is_transient() && attempts.len() < MAX_ATTEMPTS => continue,
            _ => break,
        }
    }
    PlannedRun {
        task,
        task_id,
        params,
        attempts,
    }
}

/// Log-normal around the median with some slow outliers (2 % take 5 to 15 times as long).
fn run_time_ms(rng: &mut impl Rng, median_ms: f64) -> f64 {
    let base = log_normal(rng, median_ms, 0.5);
    let slow = if rng.random_bool(0.02) {
        rng.random_range(5.0..15.0)
    } else {
        1.0
    };
    (base * slow).clamp(5.0, 60_000.0)
}

/// `median · e^(σ·z)` with z standard normal (Box–Muller).
fn log_normal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

fn failure_for(task: &str, rng: &mut impl Rng) -> FailureKind {
    match task {
        "ingest_telegram_messages" => FailureKind::FloodWait(rng.random_range(5..120)),
        "embed_messages_batch" | "embed_atoms_batch" => FailureKind::RateLimited,
        "score_message" | "extract_knowledge_from_messages" => {
            if rng.random_bool(0.7) {
                FailureKind::RateLimited
            } else {
                FailureKind::InvalidModelOutput
            }
        }
        "scheduled_notification_alert" | "scheduled_daily_digest" => FailureKind::Delivery,
        _ => FailureKind::Database,
    }
}

fn message_ids(rng: &mut impl Rng, count: usize) -> Vec<u64> {
    let first = rng.random_range(100_000..900_000u64);
    (0..count as u64).map(|i| first + i).collect()
}

/// Realistic params per task type; two carry a secret-looking key, redacted before export.
fn params_for(task: &str, rng: &mut impl Rng) -> Value {
    let chat_id = -1_001_000_000_000i64 - rng.random_range(0..10_000i64);
    match task {
        "ingest_telegram_messages" => json!({
            "chat_id": chat_id,
            "limit": rng.random_range(1..=5) * 100,
            "since_message_id": rng.random_range(100_000..900_000u64),
        }),
        "embed_messages_batch" => {
            let size = rng.random_range(16..=128);
            json!({
                "batch_size": size,
                "message_ids": message_ids(rng, size.min(8)),
                "model": "text-embedding-3-small",
            })
        }
        "embed_atoms_batch" => {
            let size = rng.random_range(8..=64);
            json!({"batch_size": size, "atom_ids": message_ids(rng, size.min(8))})
        }
        "score_message" => json!({
            "message_id": rng.random_range(100_000..900_000u64),
            "chat_id": chat_id,
        }),
        "score_unscored_messages" => json!({"limit": 500, "chat_id": chat_id}),
        "extract_knowledge_from_messages" => {
            let count = rng.random_range(5..20);
            json!({
                "chat_id": chat_id,
                "message_ids": message_ids(rng, count),
                "model": "gpt-4o-mini",
            })
        }
        "scheduled_knowledge_extraction" => json!({"window_hours": 24, "max_chats": 50}),
        "scheduled_auto_approval" => json!({"threshold": 0.85, "max_items": 200}),
        "scheduled_notification_alert" => json!({
            "channel": "telegram",
            "recipients": rng.random_range(1..10),
            "bot_token": "123456:demo-secret",
        }),
        _ => json!({
            "chat_ids": [chat_id],
            "smtp_password": "demo-secret",
            "send_at": "08:00",
        }),
    }
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
                let plan = plan_run(&mut rng, config.failure_percent);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn plans_cover_the_ten_task_types_with_realistic_shapes() {
        let mut rng = StdRng::seed_from_u64(7);
        let plans: Vec<PlannedRun> = (0..3000).map(|_| plan_run(&mut rng, 4.0)).collect();
        let names: HashSet<&str> = plans.iter().map(|p| p.task.name).collect();
        assert_eq!(names.len(), 10);
        let attempts: Vec<&PlannedAttempt> = plans.iter().flat_map(|p| &p.attempts).collect();
        let failures = attempts.iter().filter(|a| a.failure.is_some()).count();
        // 4 % of attempts, give or take sampling noise.
        assert!((60..=240).contains(&failures), "{failures} failures");
        assert!(plans.iter().any(|p| p.attempts.len() > 1), "some retries");
        assert!(plans.iter().all(|p| p.attempts.len() <= MAX_ATTEMPTS));
        for plan in &plans {
            // Only a transient failure is retried.
            for attempt in &plan.attempts[..plan.attempts.len() - 1] {
                assert!(attempt.failure.is_some_and(FailureKind::is_transient));
            }
        }
        let score: Vec<u128> = plans
            .iter()
            .filter(|p| p.task.name == "score_message")
            .map(|p| p.attempts[0].duration.as_millis())
            .collect();
        let slow = score.iter().filter(|ms| **ms > 2_000).count();
        assert!(slow > 0 && slow < score.len() / 10, "a few slow outliers");
    }

    #[test]
    fn no_failures_at_zero_percent_and_all_at_a_hundred() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..500).all(|_| plan_run(&mut rng, 0.0).attempts[0].failure.is_none()));
        assert!((0..500).all(|_| plan_run(&mut rng, 100.0).attempts[0].failure.is_some()));
    }

    #[test]
    fn failures_have_source_chains() {
        for kind in [
            FailureKind::RateLimited,
            FailureKind::FloodWait(30),
            FailureKind::InvalidModelOutput,
            FailureKind::Database,
            FailureKind::Delivery,
        ] {
            let error = kind.error();
            assert!(
                crate::failure::source_chain(&error).is_some(),
                "{kind:?} has a cause"
            );
        }
        let chain = crate::failure::source_chain(&FailureKind::RateLimited.error());
        assert_eq!(
            chain.as_deref(),
            Some(
                "HTTP 429 Too Many Requests from https://api.openai.com/v1/chat/completions\n\
                 Rate limit reached for gpt-4o-mini: limit 500 RPM, used 500; retry after 20s"
            )
        );
    }
}
