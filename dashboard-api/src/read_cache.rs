//! A short-lived, shared cache of read answers (metrics, history, timeseries, task names).
//!
//! Pages refetch their aggregates after live events, so many open pages ask the same question
//! within milliseconds of each other. Requests for the same endpoint and query share one store
//! query while it runs, and its answer for at most `max_age` after that query started; an
//! answer is never older than that. Errors are not kept: the next request asks the store again.
//!
//! The page refetches at least `max_age` after the last change it saw (ui: `use-live-sync.ts`),
//! so a cached answer never leaves it behind for good. `max_age` zero turns the cache off.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tasklens_model::{TaskStatus, TaskTypeFilter};
use tasklens_store::HistoryQuery;
use tokio::sync::OnceCell;

use crate::error::ApiError;
use crate::telemetry;

/// The longest `max_age` the page tolerates (it refetches one second after a change).
pub const MAX_AGE_LIMIT: Duration = Duration::from_secs(1);

/// A serialized JSON answer, shared between the requests that asked the same question.
#[derive(Debug, Clone)]
pub struct JsonBody(Bytes);

impl JsonBody {
    /// Serializes `value`.
    pub fn of(value: &impl Serialize) -> Result<Self, ApiError> {
        serde_json::to_vec(value)
            .map(|bytes| JsonBody(bytes.into()))
            .map_err(|err| {
                tracing::error!(error = %err, "cannot serialize an answer");
                ApiError::Internal
            })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// One question's answer: filled once by the first request, read by the others.
#[derive(Debug)]
struct Entry {
    started: Instant,
    body: OnceCell<JsonBody>,
}

/// The question an answer answers: the endpoint and the fields of its validated query. Equal
/// keys ask the same question, so they share one answer; a field that changes the answer is a
/// field of the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReadKey {
    Metrics {
        window_hours: u32,
        task_type: TaskTypeFilter,
    },
    /// The history query's fields (its dates are absolute, so equal queries have equal answers).
    History {
        task_name: Option<String>,
        service: Option<String>,
        environment: Option<String>,
        status: Option<TaskStatus>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        text: Option<String>,
        error_group: Option<i64>,
        page: u32,
        page_size: u32,
    },
    /// The window's length, not its bounds: the window moves with the clock, the question does
    /// not (an answer is at most `max_age` old anyway).
    Timeseries {
        window_hours: u32,
        task_type: TaskTypeFilter,
    },
    TaskNames {
        task_type: TaskTypeFilter,
    },
}

impl ReadKey {
    pub fn history(query: &HistoryQuery) -> Self {
        // Destructured, so a field added to the query cannot be left out of the key.
        let HistoryQuery {
            task_name,
            service,
            environment,
            status,
            start,
            end,
            text,
            error_group,
            page,
            page_size,
        } = query;
        ReadKey::History {
            task_name: task_name.clone(),
            service: service.clone(),
            environment: environment.clone(),
            status: *status,
            start: *start,
            end: *end,
            text: text.clone(),
            error_group: *error_group,
            page: *page,
            page_size: *page_size,
        }
    }

    /// The endpoint's name in the cache's metrics.
    fn endpoint(&self) -> &'static str {
        match self {
            ReadKey::Metrics { .. } => "metrics",
            ReadKey::History { .. } => "history",
            ReadKey::Timeseries { .. } => "timeseries",
            ReadKey::TaskNames { .. } => "task_names",
        }
    }
}

/// The cache. Bounded: when `capacity` questions are held, expired ones are dropped, and if
/// none has expired the cache starts over empty.
#[derive(Debug)]
pub struct ReadCache {
    max_age: Duration,
    capacity: usize,
    entries: Mutex<HashMap<ReadKey, Arc<Entry>>>,
}

impl ReadCache {
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_millis(500);
    pub const DEFAULT_CAPACITY: usize = 256;

    /// `max_age` is capped at [`MAX_AGE_LIMIT`].
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        ReadCache {
            max_age: max_age.min(MAX_AGE_LIMIT),
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, key: ReadKey) -> (Arc<Entry>, bool) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(&key)
            && entry.started.elapsed() <= self.max_age
        {
            return (entry.clone(), true);
        }
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, entry| entry.started.elapsed() <= self.max_age);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let entry = Arc::new(Entry {
            started: Instant::now(),
            body: OnceCell::new(),
        });
        entries.insert(key, entry.clone());
        (entry, false)
    }

    /// The answer to the question `key` asks: shared when fresh enough, else from `load`.
    pub async fn get_or_load<T, F, Fut>(&self, key: ReadKey, load: F) -> Result<JsonBody, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let load_body = move || async move { JsonBody::of(&load().await?) };
        if self.max_age.is_zero() {
            return load_body().await;
        }
        let endpoint = key.endpoint();
        let (entry, shared) = self.entry(key);
        telemetry::read_cache(endpoint, shared);
        entry.body.get_or_try_init(load_body).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A key per question name.
    fn key(question: &str) -> ReadKey {
        ReadKey::Timeseries {
            window_hours: 24,
            task_type: TaskTypeFilter::task_name(Some(question)),
        }
    }

    async fn ask(cache: &ReadCache, question: &str, loads: &AtomicUsize) -> String {
        let body = cache
            .get_or_load(key(question), || async {
                let n = loads.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::task::yield_now().await;
                Ok::<_, ApiError>(n)
            })
            .await
            .expect("answer");
        String::from_utf8(body.as_bytes().to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn concurrent_and_recent_requests_share_one_load() {
        let cache = ReadCache::new(Duration::from_secs(60), 8);
        let loads = AtomicUsize::new(0);
        let answers =
            futures_util::future::join_all((0..10).map(|_| ask(&cache, "a", &loads))).await;
        assert!(answers.iter().all(|a| a == "1"), "{answers:?}");
        assert_eq!(ask(&cache, "a", &loads).await, "1");
        assert_eq!(ask(&cache, "b", &loads).await, "2", "another question");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_expired_answer_is_loaded_again() {
        let cache = ReadCache::new(Duration::from_millis(1), 8);
        let loads = AtomicUsize::new(0);
        assert_eq!(ask(&cache, "a", &loads).await, "1");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(ask(&cache, "a", &loads).await, "2");
    }

    #[tokio::test]
    async fn zero_max_age_always_loads() {
        let cache = ReadCache::new(Duration::ZERO, 8);
        let loads = AtomicUsize::new(0);
        assert_eq!(ask(&cache, "a", &loads).await, "1");
        assert_eq!(ask(&cache, "a", &loads).await, "2");
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let cache = ReadCache::new(Duration::from_secs(60), 8);
        let failed = cache
            .get_or_load(key("a"), || async {
                Err::<u8, _>(ApiError::Unavailable("down".into()))
            })
            .await;
        assert_eq!(failed.err(), Some(ApiError::Unavailable("down".into())));
        let loads = AtomicUsize::new(0);
        assert_eq!(ask(&cache, "a", &loads).await, "1");
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_capacity() {
        let cache = ReadCache::new(Duration::from_secs(60), 3);
        let loads = AtomicUsize::new(0);
        for n in 0..10 {
            ask(&cache, &n.to_string(), &loads).await;
            let held = cache.entries.lock().expect("lock").len();
            assert!(held <= 3, "{held}");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 10);
    }

    #[test]
    fn keys_differ_in_every_field_of_the_query_and_equal_queries_share_one() {
        use std::collections::HashSet;

        use chrono::TimeZone;

        let base = HistoryQuery {
            task_name: Some("score_message".into()),
            service: None,
            environment: None,
            status: Some(TaskStatus::Failed),
            start: Some(
                Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                    .single()
                    .expect("date"),
            ),
            end: Some(
                Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0)
                    .single()
                    .expect("date"),
            ),
            text: Some("timeout".into()),
            error_group: None,
            page: 2,
            page_size: 50,
        };
        assert_eq!(ReadKey::history(&base), ReadKey::history(&base.clone()));
        let one_field_changed = [
            HistoryQuery {
                task_name: Some("send_email".into()),
                ..base.clone()
            },
            HistoryQuery {
                service: Some("billing".into()),
                ..base.clone()
            },
            HistoryQuery {
                environment: Some("prod".into()),
                ..base.clone()
            },
            HistoryQuery {
                status: Some(TaskStatus::Success),
                ..base.clone()
            },
            HistoryQuery {
                start: None,
                ..base.clone()
            },
            HistoryQuery {
                error_group: Some(3),
                ..base.clone()
            },
            HistoryQuery {
                end: Some(
                    Utc.with_ymd_and_hms(2025, 1, 3, 0, 0, 0)
                        .single()
                        .expect("date"),
                ),
                ..base.clone()
            },
            HistoryQuery {
                text: None,
                ..base.clone()
            },
            HistoryQuery {
                page: 3,
                ..base.clone()
            },
            HistoryQuery {
                page_size: 51,
                ..base.clone()
            },
        ];
        let mut keys: HashSet<ReadKey> = HashSet::from([ReadKey::history(&base)]);
        for query in &one_field_changed {
            assert!(keys.insert(ReadKey::history(query)), "{query:?}");
        }
        // The same validated query shares one key however its query string was written.
        let parsed = |raw: &str| {
            crate::params::history(&crate::params::QueryParams::parse(Some(raw))).expect("valid")
        };
        assert_eq!(
            ReadKey::history(&parsed("task_name=a&page=2")),
            ReadKey::history(&parsed("page=2&task_name=a&unknown=1"))
        );
        // Endpoints never share a key.
        let timeseries = ReadKey::Timeseries {
            window_hours: 24,
            task_type: TaskTypeFilter::default(),
        };
        assert_ne!(
            ReadKey::Metrics {
                window_hours: 24,
                task_type: TaskTypeFilter::default()
            },
            timeseries
        );
        assert_ne!(
            timeseries,
            ReadKey::Timeseries {
                window_hours: 25,
                task_type: TaskTypeFilter::default()
            }
        );
        // A service filter is part of the question.
        assert_ne!(
            ReadKey::history(&parsed("task_name=a")),
            ReadKey::history(&parsed("task_name=a&service=billing"))
        );
    }

    #[test]
    fn max_age_is_capped_at_the_page_refresh_interval() {
        assert_eq!(
            ReadCache::new(Duration::from_secs(30), 1).max_age,
            MAX_AGE_LIMIT
        );
    }
}
