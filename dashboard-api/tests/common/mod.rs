//! Shared by the API tests: runs written through `write_batch` (the collector's path) and a
//! server on port 0 over the test's own database.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};
use tasklens_dashboard_api::{ApiConfig, RunningApi};
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};
use tasklens_store::{PgStore, RetentionPolicy, TaskStore};

/// One run's life: enqueued at `t0`, started 40 ms later, then (depending on `end`) still
/// running, succeeded or failed after `duration_ms`.
#[derive(Debug, Clone)]
pub struct Run {
    pub task_id: String,
    pub attempt: i32,
    pub task_name: String,
    pub t0: DateTime<Utc>,
    pub duration_ms: i64,
    pub end: TaskStatus,
    pub error: Option<String>,
}

impl Run {
    pub fn new(task_id: &str, task_name: &str, t0: DateTime<Utc>, end: TaskStatus) -> Self {
        Run {
            task_id: task_id.to_owned(),
            attempt: 0,
            task_name: task_name.to_owned(),
            t0: t0.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t0),
            duration_ms: 1000,
            end,
            error: (end == TaskStatus::Failed).then(|| "OpenAI API rate limit exceeded".to_owned()),
        }
    }

    pub fn attempt(mut self, attempt: i32) -> Self {
        self.attempt = attempt;
        self
    }

    pub fn duration(mut self, ms: i64) -> Self {
        self.duration_ms = ms;
        self
    }

    pub fn error(mut self, message: &str) -> Self {
        self.error = Some(message.to_owned());
        self
    }

    fn state(&self, status: TaskStatus) -> RunState {
        let key = RunKey {
            source: SourceSystem::Celery,
            task_id: self.task_id.clone(),
            attempt: self.attempt,
        };
        RunState::new(key, &self.task_name, status)
    }

    fn started_at(&self) -> DateTime<Utc> {
        self.t0 + TimeDelta::milliseconds(40)
    }

    /// The report of this run in `status` (pending, running or its end).
    pub fn event(&self, status: TaskStatus) -> TaskRunEvent {
        let mut run = self.state(status);
        let observed_at = match status {
            TaskStatus::Pending => {
                run.enqueued_at = Some(self.t0);
                run.params = Some(json!({"message_id": 500, "task": self.task_id}));
                run.queue = Some("default".into());
                self.t0
            }
            TaskStatus::Running => {
                run.started_at = Some(self.started_at());
                run.worker_host = Some("worker-1".into());
                run.service_name = Some("workers".into());
                run.trace_id = Some([0xab; 16]);
                run.span_id = Some([0x0c; 8]);
                self.started_at()
            }
            TaskStatus::Success | TaskStatus::Failed => {
                let completed = self.started_at() + TimeDelta::milliseconds(self.duration_ms);
                run.started_at = Some(self.started_at());
                run.completed_at = Some(completed);
                if status == TaskStatus::Failed {
                    let message = self.error.clone().unwrap_or_else(|| "failed".into());
                    run.error_type = Some("RateLimitError".into());
                    run.error_traceback = Some(format!(
                        "Traceback (most recent call last):\n  ...\n{message}"
                    ));
                    run.error_message = Some(message);
                }
                completed
            }
        };
        TaskRunEvent { observed_at, run }
    }

    /// Every report up to its end.
    pub fn events(&self) -> Vec<TaskRunEvent> {
        TaskStatus::ALL
            .into_iter()
            .filter(|status| *status <= TaskStatus::Running || *status == self.end)
            .filter(|status| *status <= self.end)
            .map(|status| self.event(status))
            .collect()
    }
}

/// A store on the test's database with partitions around now.
pub async fn store(pool: sqlx::PgPool) -> Arc<PgStore> {
    let store = PgStore::from_pool(pool);
    store
        .maintain(&RetentionPolicy::new(30))
        .await
        .expect("maintenance");
    Arc::new(store)
}

/// Writes runs as the collector does, all in one batch.
pub async fn write(store: &PgStore, runs: &[Run]) {
    let events: Vec<_> = runs.iter().flat_map(Run::events).collect();
    let outcome = store.write_batch(events).await.expect("write");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
}

/// A server on port 0.
pub struct Api {
    pub running: RunningApi,
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn start(store: Arc<PgStore>, config: ApiConfig) -> Api {
        let config = ApiConfig {
            http_addr: "127.0.0.1:0".parse().expect("addr"),
            ..config
        };
        let running = tasklens_dashboard_api::start(config, store)
            .await
            .expect("the API starts");
        let base = format!("http://{}", running.addr);
        Api {
            running,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/api/v1/monitoring/ws{query}", self.running.addr)
    }

    /// GET, answering the status and the JSON body (`Value::Null` when not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    names.sort();
    names
}

pub mod ws;
