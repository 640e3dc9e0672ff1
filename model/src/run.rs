//! A task run's state, the events that report it, and the merge rule that folds them.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::limits::{
    MAX_NAME_BYTES, MAX_TEXT_BYTES, cap_params, cap_text, cap_text_end, params_without_nul,
    without_nul,
};
use crate::status::{SourceSystem, TaskStatus};

/// What identifies one run: retries that reuse a task id are separate attempts, and task ids are
/// only unique within their source system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    pub source: SourceSystem,
    pub task_id: String,
    pub attempt: i32,
}

/// Namespace of the run-key UUIDs (a fixed random UUID, so the mapping never changes).
const RUN_KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3c2a_8b4e_4f7a_9c55_2e1d_0b7a_41c3);

impl RunKey {
    /// A fixed-size digest of the key (UUID v5), used as the store's identity index so that the
    /// index stays small whatever the length of task ids.
    pub fn digest(&self) -> Uuid {
        let mut name = Vec::with_capacity(self.task_id.len() + 24);
        name.extend_from_slice(self.source.as_str().as_bytes());
        name.push(0);
        name.extend_from_slice(self.task_id.as_bytes());
        name.push(0);
        name.extend_from_slice(&self.attempt.to_be_bytes());
        Uuid::new_v5(&RUN_KEY_NAMESPACE, &name)
    }
}

/// Everything known about one run. Events carry a partial state; the store keeps the merge of
/// all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub source: SourceSystem,
    pub task_id: String,
    pub attempt: i32,
    pub task_name: String,
    pub status: TaskStatus,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub params: Option<Value>,
    pub error_message: Option<String>,
    pub error_type: Option<String>,
    pub error_traceback: Option<String>,
    pub trace_id: Option<[u8; 16]>,
    pub span_id: Option<[u8; 8]>,
    pub queue: Option<String>,
    /// The worker's service (`service.name` of the run span), not the producer's.
    pub service_name: Option<String>,
    /// The worker's deployment environment (`deployment.environment.name`, or the older
    /// `deployment.environment`, of the run span's resource).
    pub environment: Option<String>,
    pub worker_host: Option<String>,
}

/// One report about a run, as a receiver decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRunEvent {
    /// When tasklens received the report. The first report of a run fixes the run's
    /// `created_at`, which is what time windows and daily partitions use.
    pub observed_at: DateTime<Utc>,
    pub run: RunState,
}

/// The rules a run must satisfy; each has the name of the database constraint that enforces it
/// too, so an error from either place names the same rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationRule {
    TaskNameRequired,
    TaskIdRequired,
    AttemptNotNegative,
    RunningRunHasStartedAt,
    CompletedRunHasTimestamps,
    FailedRunHasErrorMessage,
    CompletedNotBeforeStarted,
}

impl ValidationRule {
    pub fn name(self) -> &'static str {
        match self {
            Self::TaskNameRequired => "task_name_required",
            Self::TaskIdRequired => "task_id_required",
            Self::AttemptNotNegative => "attempt_not_negative",
            Self::RunningRunHasStartedAt => "running_run_has_started_at",
            Self::CompletedRunHasTimestamps => "completed_run_has_timestamps",
            Self::FailedRunHasErrorMessage => "failed_run_has_error_message",
            Self::CompletedNotBeforeStarted => "completed_not_before_started",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Self::TaskNameRequired => "a run needs a non-empty task name",
            Self::TaskIdRequired => "a run needs a non-empty task id",
            Self::AttemptNotNegative => "the attempt number starts at 0",
            Self::RunningRunHasStartedAt => "a running run needs started_at",
            Self::CompletedRunHasTimestamps => {
                "a completed (success or failed) run needs started_at and completed_at"
            }
            Self::FailedRunHasErrorMessage => "a failed run needs an error message",
            Self::CompletedNotBeforeStarted => "completed_at cannot be before started_at",
        }
    }
}

/// A run refused by a rule, with the run it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("run {task_id} (attempt {attempt}) of task {task_name:?} breaks rule {}: {}", rule.name(), rule.explanation())]
pub struct RuleViolation {
    pub rule: ValidationRule,
    pub task_id: String,
    pub task_name: String,
    pub attempt: i32,
}

/// Precision the store keeps (PostgreSQL timestamps are microseconds). Every timestamp is cut to
/// it on the way in so the in-memory merge and the stored row compare equal.
fn to_micros(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(ts)
}

/// Join of two optional values: a known value always beats an unknown one (a field once known is
/// never blanked); between two known values `pick` decides, and it must be commutative.
fn join<T>(a: Option<T>, b: Option<T>, pick: impl FnOnce(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Byte-wise maximum of two strings (the store compares with `COLLATE "C"`, the same order).
fn max_str(a: String, b: String) -> String {
    if b > a { b } else { a }
}

/// A total order on JSON values: by their compact serialization. serde_json sorts object keys,
/// so equal values always serialize the same way.
fn max_json(a: Value, b: Value) -> Value {
    match a.to_string().cmp(&b.to_string()) {
        Ordering::Less => b,
        _ => a,
    }
}

impl RunState {
    /// A state with only the required fields, the rest unknown.
    pub fn new(key: RunKey, task_name: impl Into<String>, status: TaskStatus) -> Self {
        RunState {
            source: key.source,
            task_id: key.task_id,
            attempt: key.attempt,
            task_name: task_name.into(),
            status,
            enqueued_at: None,
            started_at: None,
            completed_at: None,
            params: None,
            error_message: None,
            error_type: None,
            error_traceback: None,
            trace_id: None,
            span_id: None,
            queue: None,
            service_name: None,
            environment: None,
            worker_host: None,
        }
    }

    pub fn key(&self) -> RunKey {
        RunKey {
            source: self.source,
            task_id: self.task_id.clone(),
            attempt: self.attempt,
        }
    }

    /// The merge rule, field by field:
    /// - `status` moves forward only: the greater of the two (see [`TaskStatus`]'s order);
    /// - `enqueued_at` and `started_at` keep the earliest report, `completed_at` the latest;
    /// - every other field keeps the known value over an unknown one, and the greater of two
    ///   known values (byte order for text, serialized order for params).
    ///
    /// Each field is a join, so the merge is commutative, associative and idempotent: any order
    /// and any duplication of events give the same state. Both states must have the same key.
    pub fn merge(self, other: RunState) -> RunState {
        debug_assert_eq!(self.key(), other.key(), "merging states of different runs");
        RunState {
            source: self.source,
            task_id: self.task_id,
            attempt: self.attempt,
            task_name: max_str(self.task_name, other.task_name),
            status: self.status.max(other.status),
            enqueued_at: join(self.enqueued_at, other.enqueued_at, Ord::min),
            started_at: join(self.started_at, other.started_at, Ord::min),
            completed_at: join(self.completed_at, other.completed_at, Ord::max),
            params: join(self.params, other.params, max_json),
            error_message: join(self.error_message, other.error_message, max_str),
            error_type: join(self.error_type, other.error_type, max_str),
            error_traceback: join(self.error_traceback, other.error_traceback, max_str),
            trace_id: join(self.trace_id, other.trace_id, Ord::max),
            span_id: join(self.span_id, other.span_id, Ord::max),
            queue: join(self.queue, other.queue, max_str),
            service_name: join(self.service_name, other.service_name, max_str),
            environment: join(self.environment, other.environment, max_str),
            worker_host: join(self.worker_host, other.worker_host, max_str),
        }
    }

    /// Duration of a finished run, derived from its timestamps so it converges with them.
    pub fn duration_ms(&self) -> Option<i64> {
        if !self.status.is_finished() {
            return None;
        }
        let (start, end) = (self.started_at?, self.completed_at?);
        Some((end - start).num_milliseconds().max(0))
    }

    /// Time the run waited in its queue; clamped at 0 because producer and worker clocks differ.
    pub fn queue_wait_ms(&self) -> Option<i64> {
        let (enqueued, start) = (self.enqueued_at?, self.started_at?);
        Some((start - enqueued).num_milliseconds().max(0))
    }

    /// Checks the rules of one report. A merged state of valid reports is valid too, since the
    /// merge never blanks a field and never moves the status back.
    pub fn validate(&self) -> Result<(), RuleViolation> {
        let broken = |rule| {
            Err(RuleViolation {
                rule,
                task_id: self.task_id.clone(),
                task_name: self.task_name.clone(),
                attempt: self.attempt,
            })
        };
        if self.task_name.trim().is_empty() {
            return broken(ValidationRule::TaskNameRequired);
        }
        if self.task_id.trim().is_empty() {
            return broken(ValidationRule::TaskIdRequired);
        }
        if self.attempt < 0 {
            return broken(ValidationRule::AttemptNotNegative);
        }
        if self.status == TaskStatus::Running && self.started_at.is_none() {
            return broken(ValidationRule::RunningRunHasStartedAt);
        }
        if self.status.is_finished() && (self.started_at.is_none() || self.completed_at.is_none()) {
            return broken(ValidationRule::CompletedRunHasTimestamps);
        }
        if self.status == TaskStatus::Failed
            && self
                .error_message
                .as_deref()
                .is_none_or(|m| m.trim().is_empty())
        {
            return broken(ValidationRule::FailedRunHasErrorMessage);
        }
        if let (Some(start), Some(end)) = (self.started_at, self.completed_at)
            && end < start
        {
            return broken(ValidationRule::CompletedNotBeforeStarted);
        }
        Ok(())
    }

    /// Applies the size caps and the store's timestamp precision. Idempotent.
    pub fn normalized(self) -> RunState {
        let name = |s: String| cap_text(without_nul(s), MAX_NAME_BYTES);
        let text = |s: String| cap_text(without_nul(s), MAX_TEXT_BYTES);
        RunState {
            task_id: name(self.task_id),
            task_name: name(self.task_name),
            enqueued_at: self.enqueued_at.map(to_micros),
            started_at: self.started_at.map(to_micros),
            completed_at: self.completed_at.map(to_micros),
            params: self.params.map(|p| cap_params(params_without_nul(p))),
            error_message: self.error_message.map(text),
            error_type: self.error_type.map(name),
            error_traceback: self
                .error_traceback
                .map(|s| cap_text_end(without_nul(s), MAX_TEXT_BYTES)),
            queue: self.queue.map(name),
            service_name: self.service_name.map(name),
            environment: self.environment.map(name),
            worker_host: self.worker_host.map(name),
            ..self
        }
    }
}

impl TaskRunEvent {
    /// Replaces NULs, caps sizes, truncates timestamps to the store's precision, then checks
    /// the rules.
    pub fn prepare(self) -> Result<TaskRunEvent, RuleViolation> {
        let run = self.run.normalized();
        run.validate()?;
        Ok(TaskRunEvent {
            observed_at: to_micros(self.observed_at),
            run,
        })
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}#{}", self.source, self.task_id, self.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + secs, 0)
            .single()
            .expect("valid timestamp")
    }

    fn key() -> RunKey {
        RunKey {
            source: SourceSystem::Celery,
            task_id: "t-1".into(),
            attempt: 0,
        }
    }

    fn pending() -> RunState {
        RunState {
            enqueued_at: Some(at(0)),
            params: Some(json!({"message_id": 500})),
            ..RunState::new(key(), "score_message", TaskStatus::Pending)
        }
    }

    fn running() -> RunState {
        RunState {
            started_at: Some(at(2)),
            worker_host: Some("worker-1".into()),
            ..RunState::new(key(), "score_message", TaskStatus::Running)
        }
    }

    fn failed() -> RunState {
        RunState {
            started_at: Some(at(2)),
            completed_at: Some(at(7)),
            error_message: Some("rate limit".into()),
            error_traceback: Some("Traceback...".into()),
            ..RunState::new(key(), "score_message", TaskStatus::Failed)
        }
    }

    #[test]
    fn a_late_running_report_never_reopens_a_finished_run() {
        let merged = failed().merge(running()).merge(pending());
        assert_eq!(merged.status, TaskStatus::Failed);
        assert_eq!(merged.duration_ms(), Some(5000));
        assert_eq!(merged.queue_wait_ms(), Some(2000));
        assert_eq!(merged.params, Some(json!({"message_id": 500})));
        assert_eq!(merged.worker_host.as_deref(), Some("worker-1"));
        assert_eq!(merged.error_message.as_deref(), Some("rate limit"));
    }

    #[test]
    fn merge_table() {
        // (left, right, expected status, expected duration)
        let cases = [
            (pending(), running(), TaskStatus::Running, None),
            (running(), pending(), TaskStatus::Running, None),
            (running(), failed(), TaskStatus::Failed, Some(5000)),
            (failed(), failed(), TaskStatus::Failed, Some(5000)),
            (pending(), pending(), TaskStatus::Pending, None),
        ];
        for (left, right, status, duration) in cases {
            let merged = left.clone().merge(right.clone());
            assert_eq!(merged.status, status, "{left:?} + {right:?}");
            assert_eq!(merged.duration_ms(), duration, "{left:?} + {right:?}");
        }
    }

    #[test]
    fn validation_names_the_broken_rule() {
        let cases = [
            (
                RunState::new(key(), "", TaskStatus::Pending),
                ValidationRule::TaskNameRequired,
            ),
            (
                RunState::new(
                    RunKey {
                        task_id: " ".into(),
                        ..key()
                    },
                    "x",
                    TaskStatus::Pending,
                ),
                ValidationRule::TaskIdRequired,
            ),
            (
                RunState::new(
                    RunKey {
                        attempt: -1,
                        ..key()
                    },
                    "x",
                    TaskStatus::Pending,
                ),
                ValidationRule::AttemptNotNegative,
            ),
            (
                RunState::new(key(), "x", TaskStatus::Running),
                ValidationRule::RunningRunHasStartedAt,
            ),
            (
                RunState {
                    started_at: Some(at(1)),
                    ..RunState::new(key(), "x", TaskStatus::Success)
                },
                ValidationRule::CompletedRunHasTimestamps,
            ),
            (
                RunState {
                    error_message: None,
                    ..failed()
                },
                ValidationRule::FailedRunHasErrorMessage,
            ),
            (
                RunState {
                    started_at: Some(at(10)),
                    completed_at: Some(at(1)),
                    ..RunState::new(key(), "x", TaskStatus::Success)
                },
                ValidationRule::CompletedNotBeforeStarted,
            ),
        ];
        for (state, rule) in cases {
            let err = state.validate().expect_err("must be refused");
            assert_eq!(err.rule, rule);
            assert!(err.to_string().contains(rule.name()), "{err}");
        }
        for valid in [pending(), running(), failed()] {
            assert_eq!(valid.validate(), Ok(()));
        }
    }

    #[test]
    fn run_key_digest_separates_sources_and_attempts() {
        let base = key();
        let retry = RunKey {
            attempt: 1,
            ..key()
        };
        let other_source = RunKey {
            source: SourceSystem::Bullmq,
            ..key()
        };
        assert_eq!(base.digest(), key().digest());
        assert_ne!(base.digest(), retry.digest());
        assert_ne!(base.digest(), other_source.digest());
    }

    fn arb_opt_time() -> impl Strategy<Value = Option<DateTime<Utc>>> {
        proptest::option::of((0i64..100).prop_map(at))
    }

    fn arb_opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[a-c]{0,3}")
    }

    prop_compose! {
        fn arb_state()(
            status in proptest::sample::select(TaskStatus::ALL.to_vec()),
            name in "[ab]",
            enqueued_at in arb_opt_time(), started_at in arb_opt_time(), completed_at in arb_opt_time(),
            params in proptest::option::of((0..3u8).prop_map(|n| json!({"n": n}))),
            error_message in arb_opt_text(), error_type in arb_opt_text(), error_traceback in arb_opt_text(),
            trace in proptest::option::of(any::<[u8; 16]>()), span in proptest::option::of(any::<[u8; 8]>()),
            queue in arb_opt_text(), service_name in arb_opt_text(), worker_host in arb_opt_text(),
            environment in arb_opt_text(),
        ) -> RunState {
            RunState {
                enqueued_at, started_at, completed_at, params, error_message, error_type,
                error_traceback, trace_id: trace, span_id: span, queue, service_name, environment,
                worker_host,
                ..RunState::new(key(), name, status)
            }
        }
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_state(), b in arb_state()) {
            prop_assert_eq!(a.clone().merge(b.clone()), b.merge(a));
        }

        #[test]
        fn merge_is_associative(a in arb_state(), b in arb_state(), c in arb_state()) {
            prop_assert_eq!(
                a.clone().merge(b.clone()).merge(c.clone()),
                a.merge(b.merge(c))
            );
        }

        #[test]
        fn merge_is_idempotent(a in arb_state(), b in arb_state()) {
            let once = a.clone().merge(b);
            prop_assert_eq!(once.clone().merge(a), once.clone());
        }

        #[test]
        fn merge_never_blanks_a_known_field(a in arb_state(), b in arb_state()) {
            let merged = a.clone().merge(b);
            prop_assert!(merged.status >= a.status);
            prop_assert!(a.started_at.is_none() || merged.started_at.is_some());
            prop_assert!(a.params.is_none() || merged.params.is_some());
            prop_assert!(a.error_message.is_none() || merged.error_message.is_some());
            prop_assert!(a.worker_host.is_none() || merged.worker_host.is_some());
        }
    }
}
