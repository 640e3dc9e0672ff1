//! The ten demo task types: the background tasks of a Telegram knowledge bot (ingesting chat
//! history, embedding, LLM scoring and extraction, scheduled jobs), with how often each runs,
//! how long it takes, how often and how it fails, its queue and its params.
//!
//! One catalogue for everything that makes runs: the demo worker ([`crate::demo`]), the data
//! generator and the load clients of `tasklens-bench`. Each reader renders a failure its own
//! way (the demo as a Rust error chain, the generator as a Python traceback); the catalogue
//! says which failures a task type has.
//!
//! The sampling functions take any [`Rng`] and draw in a fixed order, so a seeded generator
//! gives the same runs every time.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};

/// The weights of [`TASK_TYPES`] sum to this: a weight is runs per thousand.
pub const WEIGHT_TOTAL: u32 = 1000;

/// What goes wrong in a run of a task type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The LLM provider's rate limit (HTTP 429).
    RateLimit,
    /// An HTTP call got no answer in time.
    ReadTimeout,
    /// The task ran past its time limit.
    TimeLimit,
    /// No database connection could be had.
    DbConnection,
    Deadlock,
    UniqueViolation,
    /// Telegram's flood wait: the client must pause before its next call.
    FloodWait,
    /// The cache (Redis) cannot be reached.
    Redis,
    /// The model's answer does not fit the expected schema.
    Validation,
    /// A record the task works on is gone.
    NotFound,
}

/// Where a task function sits in the application's code, for the tracebacks of its failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSource {
    /// The module under `app/tasks/`.
    pub module: &'static str,
    pub line: u32,
    /// The line of the task that calls into the failing service.
    pub call: &'static str,
}

/// One task type and how its runs behave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskType {
    pub name: &'static str,
    /// Runs per thousand ([`WEIGHT_TOTAL`]).
    pub weight: u32,
    /// Median run time in milliseconds; run times are log-normal around it.
    pub median_ms: f64,
    /// Spread of the run times: the standard deviation of their logarithm.
    pub sigma: f64,
    /// Share of attempts that fail in data made to look like production (the generator); the
    /// demo worker takes its failure share from its configuration instead.
    pub failure_rate: f64,
    pub queue: &'static str,
    /// The service whose workers run it.
    pub service: &'static str,
    pub source: TaskSource,
    /// What goes wrong, repeated entries being more frequent.
    pub errors: &'static [Failure],
}

use Failure::{
    DbConnection, Deadlock, FloodWait, NotFound, RateLimit, ReadTimeout, Redis, TimeLimit,
    UniqueViolation, Validation,
};

/// The catalogue, most frequent first.
pub const TASK_TYPES: [TaskType; 10] = [
    TaskType {
        name: "score_message",
        weight: 380,
        median_ms: 900.0,
        sigma: 0.55,
        failure_rate: 0.045,
        queue: "llm",
        service: "llm-worker",
        source: TaskSource {
            module: "scoring",
            line: 88,
            call: "score = await scorer.score(message_id=message_id)",
        },
        errors: &[
            RateLimit,
            RateLimit,
            RateLimit,
            ReadTimeout,
            DbConnection,
            UniqueViolation,
            NotFound,
            Redis,
        ],
    },
    TaskType {
        name: "embed_messages_batch",
        weight: 180,
        median_ms: 1400.0,
        sigma: 0.5,
        failure_rate: 0.03,
        queue: "embeddings",
        service: "embedding-worker",
        source: TaskSource {
            module: "embeddings",
            line: 54,
            call: "vectors = await embedder.embed_messages(message_ids, model=model)",
        },
        errors: &[RateLimit, RateLimit, ReadTimeout, DbConnection, Deadlock],
    },
    TaskType {
        name: "ingest_telegram_messages",
        weight: 160,
        median_ms: 180.0,
        sigma: 0.9,
        failure_rate: 0.035,
        queue: "ingest",
        service: "telegram-worker",
        source: TaskSource {
            module: "ingest",
            line: 41,
            call: "count = await reader.fetch_history(chat_id, min_id=min_id, limit=limit)",
        },
        errors: &[FloodWait, FloodWait, DbConnection, UniqueViolation, Redis],
    },
    TaskType {
        name: "embed_atoms_batch",
        weight: 120,
        median_ms: 1900.0,
        sigma: 0.5,
        failure_rate: 0.03,
        queue: "embeddings",
        service: "embedding-worker",
        source: TaskSource {
            module: "embeddings",
            line: 97,
            call: "vectors = await embedder.embed_atoms(atom_ids, model=model)",
        },
        errors: &[RateLimit, ReadTimeout, ReadTimeout, DbConnection, Deadlock],
    },
    TaskType {
        name: "extract_knowledge_from_messages",
        weight: 90,
        median_ms: 9000.0,
        sigma: 0.7,
        failure_rate: 0.06,
        queue: "llm",
        service: "llm-worker",
        source: TaskSource {
            module: "knowledge",
            line: 133,
            call: "atoms = await extractor.extract(message_ids, provider=provider)",
        },
        errors: &[RateLimit, RateLimit, Validation, TimeLimit, DbConnection],
    },
    TaskType {
        name: "score_unscored_messages",
        weight: 40,
        median_ms: 4500.0,
        sigma: 0.6,
        failure_rate: 0.04,
        queue: "llm",
        service: "llm-worker",
        source: TaskSource {
            module: "scoring",
            line: 121,
            call: "queued = await scorer.enqueue_unscored(limit=limit)",
        },
        errors: &[RateLimit, TimeLimit, DbConnection],
    },
    TaskType {
        name: "scheduled_knowledge_extraction",
        weight: 15,
        median_ms: 40_000.0,
        sigma: 0.5,
        failure_rate: 0.05,
        queue: "scheduler",
        service: "scheduler-worker",
        source: TaskSource {
            module: "scheduled",
            line: 37,
            call: "await knowledge.run_extraction(lookback=timedelta(hours=lookback_hours))",
        },
        errors: &[TimeLimit, TimeLimit, DbConnection, Redis, Deadlock],
    },
    TaskType {
        name: "scheduled_auto_approval",
        weight: 10,
        median_ms: 350.0,
        sigma: 0.6,
        failure_rate: 0.02,
        queue: "scheduler",
        service: "scheduler-worker",
        source: TaskSource {
            module: "scheduled",
            line: 64,
            call: "approved = await approvals.auto_approve(min_confidence=min_confidence)",
        },
        errors: &[DbConnection, Deadlock, Redis],
    },
    TaskType {
        name: "scheduled_notification_alert",
        weight: 4,
        median_ms: 60.0,
        sigma: 0.7,
        failure_rate: 0.02,
        queue: "scheduler",
        service: "scheduler-worker",
        source: TaskSource {
            module: "scheduled",
            line: 92,
            call: "await notifier.send_alerts(channel=channel, threshold=threshold)",
        },
        errors: &[Redis, DbConnection, FloodWait],
    },
    TaskType {
        name: "scheduled_daily_digest",
        weight: 1,
        median_ms: 75_000.0,
        sigma: 0.35,
        failure_rate: 0.03,
        queue: "scheduler",
        service: "scheduler-worker",
        source: TaskSource {
            module: "scheduled",
            line: 118,
            call: "digest = await digests.build_and_send(day=date, recipients=recipients)",
        },
        errors: &[TimeLimit, RateLimit, DbConnection],
    },
];

/// Shortest and longest run time a sample gives, in milliseconds.
const RUN_TIME_RANGE_MS: (f64, f64) = (3.0, 20.0 * 60_000.0);

impl TaskType {
    /// The catalogue entry called `name`.
    pub fn named(name: &str) -> Option<&'static TaskType> {
        TASK_TYPES.iter().find(|task| task.name == name)
    }

    /// Share of all runs, in (0, 1].
    pub fn share(&self) -> f64 {
        f64::from(self.weight) / f64::from(WEIGHT_TOTAL)
    }

    /// A run time in milliseconds: log-normal around the median, within 3 ms and 20 minutes.
    pub fn run_time_ms(&self, rng: &mut impl Rng) -> f64 {
        let (min, max) = RUN_TIME_RANGE_MS;
        log_normal(rng, self.median_ms, self.sigma, min, max)
    }

    /// One of the task type's failures, by frequency.
    pub fn failure(&self, rng: &mut impl Rng) -> Failure {
        self.errors[rng.random_range(0..self.errors.len())]
    }

    /// The params of a run enqueued at `at`.
    pub fn params(&self, rng: &mut impl Rng, at: DateTime<Utc>) -> Value {
        match self.name {
            "ingest_telegram_messages" => json!({
                "chat_id": chat_id(rng),
                "min_id": rng.random_range(100_000..2_000_000),
                "limit": 200,
            }),
            "embed_messages_batch" => json!({
                "message_ids": record_ids(rng, 4, 12),
                "model": "text-embedding-3-small",
            }),
            "embed_atoms_batch" => json!({
                "atom_ids": record_ids(rng, 4, 12),
                "model": "text-embedding-3-small",
            }),
            "score_message" => json!({ "message_id": record_id(rng) }),
            "score_unscored_messages" => json!({ "limit": 500 }),
            "extract_knowledge_from_messages" => json!({
                "message_ids": record_ids(rng, 3, 8),
                "provider": "openai",
                "model": "gpt-4o-mini",
            }),
            "scheduled_knowledge_extraction" => json!({
                "lookback_hours": 6,
                "scheduled_at": at.format("%Y-%m-%dT%H:%M:00Z").to_string(),
            }),
            "scheduled_auto_approval" => json!({ "min_confidence": 0.85, "dry_run": false }),
            "scheduled_notification_alert" => json!({
                "channel": "telegram",
                "threshold": rng.random_range(5..20),
            }),
            "scheduled_daily_digest" => json!({
                "date": at.format("%Y-%m-%d").to_string(),
                "recipients": rng.random_range(1..6),
            }),
            _ => json!({}),
        }
    }
}

/// A task type by weight.
pub fn pick(rng: &mut impl Rng) -> &'static TaskType {
    let total: f64 = TASK_TYPES.iter().map(TaskType::share).sum();
    let x = rng.random::<f64>() * total;
    let mut cumulative = 0.0;
    TASK_TYPES
        .iter()
        .find(|task| {
            cumulative += task.share();
            x < cumulative
        })
        .unwrap_or(&TASK_TYPES[TASK_TYPES.len() - 1])
}

/// A standard normal draw (Box-Muller).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal around `median` (`sigma`: standard deviation of the logarithm), clamped to
/// `[min, max]`.
pub fn log_normal(rng: &mut impl Rng, median: f64, sigma: f64, min: f64, max: f64) -> f64 {
    (median * (sigma * standard_normal(rng)).exp()).clamp(min, max)
}

/// The id of a message or an atom.
pub fn record_id(rng: &mut impl Rng) -> i64 {
    rng.random_range(1_000_000..48_000_000)
}

/// Between `min` and `max` increasing record ids, a few apart.
pub fn record_ids(rng: &mut impl Rng, min: usize, max: usize) -> Value {
    let mut next = record_id(rng);
    let n = rng.random_range(min..=max);
    let ids: Vec<i64> = (0..n)
        .map(|_| {
            next += rng.random_range(1..40);
            next
        })
        .collect();
    json!(ids)
}

/// The id of one of sixty Telegram chats.
pub fn chat_id(rng: &mut impl Rng) -> i64 {
    -1_001_000_000_000 - rng.random_range(0..60) * 7_919_113
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::HashSet;

    #[test]
    fn weights_are_positive_and_sum_to_the_total() {
        assert!(TASK_TYPES.iter().all(|task| task.weight > 0));
        let sum: u32 = TASK_TYPES.iter().map(|task| task.weight).sum();
        assert_eq!(sum, WEIGHT_TOTAL);
        let shares: f64 = TASK_TYPES.iter().map(TaskType::share).sum();
        assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    }

    #[test]
    fn ten_distinct_task_types_with_sensible_figures() {
        let names: HashSet<&str> = TASK_TYPES.iter().map(|task| task.name).collect();
        assert_eq!(names.len(), 10);
        for task in &TASK_TYPES {
            assert!(task.median_ms > 0.0 && task.sigma > 0.0, "{}", task.name);
            assert!(
                task.failure_rate > 0.0 && task.failure_rate < 1.0,
                "{}",
                task.name
            );
            assert!(!task.errors.is_empty(), "{}", task.name);
            assert!(!task.queue.is_empty() && !task.service.is_empty());
            assert_eq!(TaskType::named(task.name), Some(task));
        }
    }

    #[test]
    fn every_task_type_has_params_of_its_own() {
        let mut rng = StdRng::seed_from_u64(5);
        let at = DateTime::from_timestamp(1_790_000_000, 0).expect("valid timestamp");
        for task in &TASK_TYPES {
            let params = task.params(&mut rng, at);
            assert!(
                params.as_object().is_some_and(|p| !p.is_empty()),
                "{}: {params}",
                task.name
            );
        }
    }

    #[test]
    fn picks_follow_the_weights() {
        let mut rng = StdRng::seed_from_u64(11);
        let draws = 100_000;
        let mut counts = [0u32; 10];
        for _ in 0..draws {
            let task = pick(&mut rng);
            let index = TASK_TYPES
                .iter()
                .position(|t| t.name == task.name)
                .expect("a catalogue entry");
            counts[index] += 1;
        }
        for (task, count) in TASK_TYPES.iter().zip(counts) {
            let expected = task.share() * f64::from(draws);
            let tolerance = 5.0 * expected.sqrt() + 5.0;
            assert!(
                (f64::from(count) - expected).abs() < tolerance,
                "{}: {count} draws, {expected} expected",
                task.name
            );
        }
    }

    #[test]
    fn run_times_centre_on_the_median() {
        let mut rng = StdRng::seed_from_u64(2);
        let task = TaskType::named("score_message").expect("in the catalogue");
        let mut times: Vec<f64> = (0..5_001).map(|_| task.run_time_ms(&mut rng)).collect();
        times.sort_unstable_by(f64::total_cmp);
        let median = times[times.len() / 2];
        assert!((median / task.median_ms - 1.0).abs() < 0.1, "{median}");
    }
}
