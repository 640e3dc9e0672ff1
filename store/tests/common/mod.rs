//! Builders shared by the store tests, and the two backends every shared case runs on.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, TimeZone, Utc};
use serde_json::json;
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{
    PgStore, RetentionPolicy, SqliteStore, SqliteStoreOptions, StoredRun, TaskStore,
};

/// A store as the shared cases see it: only the trait.
pub type Store = Arc<dyn TaskStore>;

/// The backend a shared case runs on, for the few assertions that look inside the database.
pub enum Backend {
    /// A fresh, migrated database from `#[sqlx::test]`.
    Postgres(PgStore),
    /// A fresh file in a temporary directory (removed when the backend is dropped).
    Sqlite {
        store: SqliteStore,
        dir: tempfile::TempDir,
    },
}

impl Backend {
    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Backend::Postgres(PgStore::from_pool(pool))
    }

    pub async fn sqlite() -> Self {
        Self::sqlite_with(&SqliteStoreOptions::default()).await
    }

    pub async fn sqlite_with(options: &SqliteStoreOptions) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open_with(&dir.path().join("tasklens.db"), options)
            .await
            .expect("open the SQLite store");
        Backend::Sqlite { store, dir }
    }

    pub fn store(&self) -> Store {
        match self {
            Backend::Postgres(store) => Arc::new(store.clone()),
            Backend::Sqlite { store, .. } => Arc::new(store.clone()),
        }
    }
}

/// Generates, for each named case (an `async fn(Backend)` of the test file), one test on a fresh
/// PostgreSQL database (`postgres::<case>`) and one on a fresh SQLite file (`sqlite::<case>`).
#[allow(unused_macros)] // sqlite.rs, which includes this module too, does not use it
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = "../migrations")]
                async fn $case(pool: sqlx::PgPool) {
                    super::$case(crate::common::Backend::postgres(pool)).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::common::Backend::sqlite().await).await;
                }
            )+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

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
                environment: Some("prod".into()),
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

/// The backend's store, prepared as of `now` (partitions around `now` on PostgreSQL).
pub async fn store(backend: &Backend, now: DateTime<Utc>) -> Store {
    let store = backend.store();
    let policy = RetentionPolicy {
        now,
        ..RetentionPolicy::new(30)
    };
    store.maintain(&policy).await.expect("maintenance");
    store
}

/// A shared store or a backend's own.
pub trait AsStore {
    fn as_store(&self) -> &dyn TaskStore;
}

impl AsStore for Store {
    fn as_store(&self) -> &dyn TaskStore {
        self.as_ref()
    }
}

impl AsStore for SqliteStore {
    fn as_store(&self) -> &dyn TaskStore {
        self
    }
}

/// Every run in the store, through the history query (newest first).
pub async fn all_runs(store: &impl AsStore) -> Vec<StoredRun> {
    let store = store.as_store();
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
