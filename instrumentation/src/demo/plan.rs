//! What each demo run does, planned up front by pure functions from the catalogue: the task
//! type by weight, its params, and each attempt's queue wait, run time and failure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;

use super::catalogue::{self, TaskType};
use super::errors::FailureKind;

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
    pub task: &'static TaskType,
    pub task_id: String,
    pub params: Value,
    pub attempts: Vec<PlannedAttempt>,
}

/// Retries after a transient failure: attempts 0, 1 and 2 at most.
pub const MAX_ATTEMPTS: usize = 3;

/// Plans one run enqueued at `enqueued_at`: a task type by weight, its params, its attempts,
/// each failing with a chance of `failure_percent`.
pub fn plan_run(
    rng: &mut impl Rng,
    failure_percent: f64,
    enqueued_at: DateTime<Utc>,
) -> PlannedRun {
    let task = catalogue::pick(rng);
    let task_id = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0xfff,
        rng.random::<u16>(),
        rng.random::<u64>() & 0xffff_ffff_ffff
    );
    let params = with_secret(task, task.params(rng, enqueued_at));
    let mut attempts = Vec::new();
    let failure_share = (failure_percent / 100.0).clamp(0.0, 1.0);
    loop {
        let first = attempts.is_empty();
        let queue_delay = if first {
            catalogue::log_normal(rng, 40.0, 1.0, 0.0, 5_000.0)
        } else {
            rng.random_range(300.0..1_500.0)
        };
        let failure = rng
            .random_bool(failure_share)
            .then(|| FailureKind::of(task.failure(rng), rng));
        attempts.push(PlannedAttempt {
            queue_delay: Duration::from_millis(queue_delay as u64),
            duration: Duration::from_millis(task.run_time_ms(rng) as u64),
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

/// Two task types get a secret-looking param, so the demo shows that such params are redacted
/// before they leave the process.
fn with_secret(task: &TaskType, mut params: Value) -> Value {
    let secret = match task.name {
        "scheduled_notification_alert" => Some(("bot_token", "123456:demo-secret")),
        "scheduled_daily_digest" => Some(("smtp_password", "demo-secret")),
        _ => None,
    };
    if let (Some((key, value)), Some(object)) = (secret, params.as_object_mut()) {
        object.insert(key.to_owned(), Value::from(value));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::catalogue::TASK_TYPES;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::HashSet;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn plans_cover_the_ten_task_types_with_realistic_shapes() {
        let mut rng = StdRng::seed_from_u64(7);
        let plans: Vec<PlannedRun> = (0..3000).map(|_| plan_run(&mut rng, 4.0, now())).collect();
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
    fn the_demo_runs_the_catalogue() {
        let mut rng = StdRng::seed_from_u64(3);
        let catalogue: HashSet<&str> = TASK_TYPES.iter().map(|task| task.name).collect();
        let planned: HashSet<&str> = (0..20_000)
            .map(|_| plan_run(&mut rng, 4.0, now()).task.name)
            .collect();
        assert_eq!(planned, catalogue);
        for _ in 0..2_000 {
            let plan = plan_run(&mut rng, 100.0, now());
            let errors: Vec<FailureKind> = plan
                .task
                .errors
                .iter()
                .map(|failure| FailureKind::of(*failure, &mut rng))
                .collect();
            for attempt in &plan.attempts {
                let kind = attempt.failure.expect("every attempt fails at 100 %");
                assert!(
                    errors
                        .iter()
                        .any(|e| std::mem::discriminant(e) == std::mem::discriminant(&kind)),
                    "{kind:?} is not a failure of {}",
                    plan.task.name
                );
            }
        }
    }

    #[test]
    fn no_failures_at_zero_percent_and_all_at_a_hundred() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..500).all(|_| plan_run(&mut rng, 0.0, now()).attempts[0].failure.is_none()));
        assert!((0..500).all(|_| {
            plan_run(&mut rng, 100.0, now()).attempts[0]
                .failure
                .is_some()
        }));
    }

    #[test]
    fn secret_looking_params_are_planned_for_the_redaction_to_show() {
        let mut rng = StdRng::seed_from_u64(9);
        let alert = TaskType::named("scheduled_notification_alert").expect("in the catalogue");
        let params = with_secret(alert, alert.params(&mut rng, now()));
        assert_eq!(params["bot_token"], "123456:demo-secret");
        assert_eq!(params["channel"], "telegram");
    }
}
