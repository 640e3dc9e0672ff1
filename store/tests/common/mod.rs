//! Builders shared by the store tests.
#![allow(dead_code)]

use chrono::{DateTime, DurationRound, TimeDelta, TimeZone, Utc};
use serde_json::json;
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{PgStore, RetentionPolicy, StoredRun, TaskStore};

/// A fixed "now" for tests that move time: 2026-11-28 12:34:56.789 UTC.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 34, 56)
        .single()
        .expect("valid")
        + TimeDelta::milliseconds(789)
}

pub fn key(task_id: &str, attempt: i32) -> RunKey {
    RunKey {
        source: SourceSystem::Tasklens,
        task_id: task_id.to_owned(),
        attempt,
    }
}

/// The events of one run's life: enqueued at `t0`, started 40 ms later, finished after
/// `duration_ms`, failed when `failure` is set.
pub struct Life {
    pub key: RunKey,
    pub task_name: String,
    pub t0: DateTime<Utc>,
    pub duration_ms: i64,
    pub failure: Option<String>,
}

impl Life {
    pub fn new(task_id: &str, task_name: &str, t0: DateTime<Utc>) -> Self {
        Life {
            key: key(task_id, 0),
            task_name: task_name.to_owned(),
            // Whole milliseconds, so timestamps compare equal after the store's rounding.
            t0: t0.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t0),
            duration_ms: 1000,
            failure: None,
        }
    }

    pub fn pending(&self) -> TaskRunEvent {
        TaskRunEvent {
            observed_at: self.t0,
            run: RunState {
                enqueued_at: Some(self.t0),
                params: Some(json!({"message_id": 500, "task": self.key.task_id})),
                queue: Some("default".into()),
                ..RunState::new(self.key.clone(), &self.task_name, TaskStatus::Pending)
            },
        }
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.t0 + TimeDelta::milliseconds(40)
    }

    pub fn running(&self) -> TaskRunEvent {
        TaskRunEvent {
            observed_at: self.started_at(),
            run: RunState {
                started_at: Some(self.started_at()),
                worker_host: Some("worker-1".into()),
                service_name: Some("workers".into()),
                trace_id: Some([7; 16]),
                span_id: Some([9; 8]),
                ..RunState::new(self.key.clone(), &self.task_name, TaskStatus::Running)
            },
        }
    }

    pub fn finished(&self) -> TaskRunEvent {
        let completed = self.started_at() + TimeDelta::milliseconds(self.duration_ms);
        let status = if self.failure.is_some() {
            TaskStatus::Failed
        } else {
            TaskStatus::Success
        };
        TaskRunEvent {
            observed_at: completed,
            run: RunState {
                started_at: Some(self.started_at()),
                completed_at: Some(completed),
                error_message: self.failure.clone(),
                error_type: self.failure.as_ref().map(|_| "RateLimitError".into()),
                error_traceback: self
                    .failure
                    .as_ref()
                    .map(|m| format!("Traceback (most recent call last):\n  ...\n{m}")),
                worker_host: Some("worker-1".into()),
                trace_id: Some([7; 16]),
                span_id: Some([9; 8]),
                ..RunState::new(self.key.clone(), &self.task_name, status)
            },
        }
    }

    pub fn all(&self) -> Vec<TaskRunEvent> {
        vec![self.pending(), self.running(), self.finished()]
    }
}

/// A store on the test's fresh database, with partitions around `now`.
pub async fn store(pool: sqlx::PgPool, now: DateTime<Utc>) -> PgStore {
    let store = PgStore::from_pool(pool);
    let policy = RetentionPolicy {
        now,
        ..RetentionPolicy::new(30)
    };
    store.maintain(&policy).await.expect("maintenance");
    store
}

/// Every run in the store, through the history query (newest first).
pub async fn all_runs(store: &PgStore) -> Vec<StoredRun> {
    let mut runs = Vec::new();
    for page in 1.. {
        let query = tasklens_store::HistoryQuery {
            page,
            page_size: 200,
            ..Default::default()
        };
        let found = store.history(&query).await.expect("history").items;
        if found.is_empty() {
            break;
        }
        runs.extend(found);
    }
    runs
}
