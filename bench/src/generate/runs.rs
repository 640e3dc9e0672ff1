//! Runs made from the catalogue of demo task types, as a Python task queue (taskiq) would report
//! them: ids, params, queue waits, run times, failures with tracebacks, retries, and the runs
//! still pending or running at "now".

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tasklens_instrumentation::demo::catalogue::{self, TaskType};
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::StoredRun;

use super::traceback;

/// Share of a failed run's task ids that are retried (attempt + 1): with ~4% failures, ~1% of
/// runs are retries.
const RETRY_PROBABILITY: f64 = 0.25;
/// Highest attempt number generated.
const MAX_ATTEMPT: i32 = 2;
/// Share of the runs created in the last hour that are still pending or running (stuck behind
/// busy workers), on top of the runs whose natural end lies after "now".
const IN_FLIGHT_SHARE: f64 = 0.01;

/// A run as generated: its state and the time tasklens first heard of it. The id comes later,
/// from [`PgStore::reserve_ids`].
#[derive(Debug, Clone)]
pub struct GeneratedRun {
    pub created_at: DateTime<Utc>,
    pub state: RunState,
}

impl GeneratedRun {
    /// The row the store keeps for this run.
    pub fn stored(self, id: i64) -> StoredRun {
        let s = &self.state;
        let updated_at = s.completed_at.or(s.started_at).unwrap_or(self.created_at);
        StoredRun {
            id,
            created_at: self.created_at,
            updated_at,
            state: self.state,
        }
    }

    /// The single report a span exporter sends when the run ends (its whole state).
    pub fn finished_event(&self) -> TaskRunEvent {
        TaskRunEvent {
            observed_at: self.created_at,
            run: self.state.clone(),
        }
    }

    /// The three reports of a run's lifecycle: enqueued, started, finished.
    pub fn lifecycle_events(&self) -> [TaskRunEvent; 3] {
        let s = &self.state;
        let base = |status| RunState::new(s.key(), s.task_name.clone(), status);
        let pending = RunState {
            enqueued_at: s.enqueued_at,
            params: s.params.clone(),
            queue: s.queue.clone(),
            trace_id: s.trace_id,
            ..base(TaskStatus::Pending)
        };
        let running = RunState {
            started_at: s.started_at,
            trace_id: s.trace_id,
            span_id: s.span_id,
            service_name: s.service_name.clone(),
            worker_host: s.worker_host.clone(),
            ..base(TaskStatus::Running)
        };
        let started = s.started_at.unwrap_or(self.created_at);
        [
            TaskRunEvent {
                observed_at: self.created_at,
                run: pending,
            },
            TaskRunEvent {
                observed_at: started,
                run: running,
            },
            TaskRunEvent {
                observed_at: s.completed_at.unwrap_or(started),
                run: s.clone(),
            },
        ]
    }
}

/// Makes runs. Deterministic for a given seed and sequence of calls.
#[derive(Debug)]
pub struct RunGenerator {
    rng: StdRng,
}

fn millis(ms: f64) -> TimeDelta {
    // Whole microseconds: the store's precision.
    #[allow(clippy::cast_possible_truncation)]
    TimeDelta::microseconds((ms * 1000.0).round() as i64)
}

impl RunGenerator {
    pub fn new(seed: u64) -> Self {
        RunGenerator {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A random UUID v4 from the seeded generator (reproducible, unlike `Uuid::new_v4`).
    fn task_id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn fail(&mut self, task: &TaskType, state: &mut RunState) {
        let failure = task.failure(&mut self.rng);
        let params = state.params.clone().unwrap_or(Value::Null);
        let error = traceback::python_error(failure, &mut self.rng, &params);
        state.error_traceback = Some(traceback::traceback(task, &error));
        state.error_type = Some(error.error_type.to_owned());
        state.error_message = Some(error.message);
        state.status = TaskStatus::Failed;
    }

    /// One attempt of a task, enqueued at `created_at`, as it stands at `now`.
    /// `finished`: always a finished run (success or failed), whatever `now` says.
    fn attempt(
        &mut self,
        task: &'static TaskType,
        key: RunKey,
        params: Value,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        finished: bool,
    ) -> RunState {
        let scheduled = task.queue == "scheduler";
        let wait_median = if scheduled { 8.0 } else { 40.0 };
        let wait = millis(catalogue::log_normal(
            &mut self.rng,
            wait_median,
            1.3,
            1.0,
            60_000.0,
        ));
        let duration = millis(task.run_time_ms(&mut self.rng));
        let started_at = created_at + wait;
        let completed_at = started_at + duration;
        let mut state = RunState {
            enqueued_at: Some(created_at),
            params: Some(params),
            queue: Some(task.queue.to_owned()),
            trace_id: Some(self.rng.random()),
            ..RunState::new(key, task.name, TaskStatus::Pending)
        };
        let stuck = !finished
            && created_at > now - TimeDelta::hours(1)
            && self.rng.random_bool(IN_FLIGHT_SHARE);
        let pending = !finished && (started_at > now || (stuck && self.rng.random_bool(0.5)));
        if pending {
            return state;
        }
        state.started_at = Some(started_at.min(now.max(created_at)));
        state.span_id = Some(self.rng.random());
        state.service_name = Some(task.service.to_owned());
        state.worker_host = Some(format!("worker-{}", self.rng.random_range(1..=12)));
        state.status = TaskStatus::Running;
        if !finished && (stuck || completed_at > now) {
            return state;
        }
        state.started_at = Some(started_at);
        state.completed_at = Some(completed_at);
        state.status = TaskStatus::Success;
        if self.rng.random_bool(task.failure_rate) {
            self.fail(task, &mut state);
        }
        state
    }

    /// A task enqueued at `created_at`, as it stands at `now`, followed by its retries when it
    /// failed (each retry enqueued a backoff after the failure, kept only if before `until`).
    pub fn task(
        &mut self,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        out: &mut Vec<GeneratedRun>,
    ) {
        let task = catalogue::pick(&mut self.rng);
        let key = RunKey {
            source: SourceSystem::Taskiq,
            task_id: self.task_id(),
            attempt: 0,
        };
        let params = task.params(&mut self.rng, created_at);
        let mut state = self.attempt(task, key, params, created_at, now, false);
        let mut created_at = created_at;
        loop {
            let retry = state.status == TaskStatus::Failed
                && state.attempt < MAX_ATTEMPT
                && self.rng.random_bool(RETRY_PROBABILITY);
            let next_created = state.completed_at.map(|done| {
                done + millis(catalogue::log_normal(
                    &mut self.rng,
                    5_000.0,
                    0.8,
                    500.0,
                    120_000.0,
                ))
            });
            let next_key = RunKey {
                attempt: state.attempt + 1,
                ..state.key()
            };
            let params = state.params.clone().unwrap_or(Value::Null);
            out.push(GeneratedRun { created_at, state });
            match next_created {
                Some(next) if retry && next < until && next <= now => {
                    // A retry fails more often than a first attempt: the cause may persist.
                    state = self.attempt(task, next_key, params, next, now, false);
                    if state.status == TaskStatus::Success && self.rng.random_bool(0.2) {
                        self.fail(task, &mut state);
                    }
                    created_at = next;
                }
                _ => break,
            }
        }
    }

    /// A finished run (success or failed, no retries) created at `created_at`.
    pub fn finished(&mut self, created_at: DateTime<Utc>) -> GeneratedRun {
        let task = catalogue::pick(&mut self.rng);
        let key = RunKey {
            source: SourceSystem::Taskiq,
            task_id: self.task_id(),
            attempt: 0,
        };
        let params = task.params(&mut self.rng, created_at);
        let state = self.attempt(task, key, params, created_at, created_at, true);
        GeneratedRun { created_at, state }
    }

    /// `n` finished runs created over the minute before `now`, oldest first.
    pub fn finished_batch(&mut self, n: usize, now: DateTime<Utc>) -> Vec<GeneratedRun> {
        let mut offsets: Vec<i64> = (0..n)
            .map(|_| self.rng.random_range(0..60_000_000))
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
            .into_iter()
            .map(|us| self.finished(now - TimeDelta::microseconds(us)))
            .collect()
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use tasklens_instrumentation::demo::catalogue::TASK_TYPES;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + h * 3600, 0).expect("valid timestamp")
    }

    #[test]
    fn lifecycle_events_merge_into_the_finished_run() {
        let mut generator = RunGenerator::new(3);
        for run in generator.finished_batch(500, at(5)) {
            let [a, b, c] = run.lifecycle_events();
            for event in [&a, &b, &c] {
                assert_eq!(event.run.validate(), Ok(()));
            }
            assert_eq!(a.run.merge(b.run).merge(c.run), run.state);
        }
    }

    #[test]
    fn the_generator_makes_the_catalogue_task_types() {
        let mut generator = RunGenerator::new(8);
        let runs = generator.finished_batch(20_000, at(5));
        let generated: HashSet<&str> = runs.iter().map(|r| r.state.task_name.as_str()).collect();
        let catalogue: HashSet<&str> = TASK_TYPES.iter().map(|task| task.name).collect();
        assert_eq!(generated, catalogue);
        for run in &runs {
            let task = TaskType::named(&run.state.task_name).expect("a catalogue task type");
            assert_eq!(run.state.queue.as_deref(), Some(task.queue));
            assert_eq!(run.state.service_name.as_deref(), Some(task.service));
        }
    }
}
