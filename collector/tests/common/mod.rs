//! Shared by the collector's tests: a collector on free ports over a fresh database, OTLP
//! request builders, and a collector behind a TCP proxy (`tasklens_test_support::DbProxy`) that a
//! test can cut.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use sqlx::PgPool;
use tasklens_collector::{CollectorConfig, RunningCollector};
use tasklens_model::conventions as conv;
use tasklens_store::{HistoryQuery, PgStore, StoredRun, TaskStore};
pub use tasklens_test_support::DbProxy;

pub fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub fn test_config() -> CollectorConfig {
    CollectorConfig {
        grpc_addr: local(),
        http_addr: local(),
        admin_addr: local(),
        retry_after: Duration::from_secs(1),
        ..CollectorConfig::default()
    }
}

/// A collector over the test's database (migrated, partitions ready).
pub async fn collector(pool: PgPool, config: CollectorConfig) -> (RunningCollector, PgStore) {
    let store = PgStore::from_pool(pool);
    store
        .maintain(&tasklens_store::RetentionPolicy::new(30))
        .await
        .expect("partitions");
    let running = tasklens_collector::start(config, Arc::new(store.clone()))
        .await
        .expect("collector starts");
    (running, store)
}

/// Every run, newest first.
pub async fn runs(store: &PgStore) -> Vec<StoredRun> {
    let mut all = Vec::new();
    for page in 1.. {
        let found = store
            .history(&HistoryQuery {
                page,
                page_size: 200,
                ..Default::default()
            })
            .await
            .expect("history")
            .items;
        if found.is_empty() {
            return all;
        }
        all.extend(found);
    }
    all
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

pub fn i(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

pub const T0: u64 = 1_790_000_000_000_000_000;

/// A run of this project's own conventions as spans: enqueue (PRODUCER), start signal, run
/// (CONSUMER). `n` makes ids unique; `fail` makes the run span failed.
pub fn tasklens_spans(n: u64, task_name: &str, fail: bool) -> Vec<Span> {
    let trace_id = {
        let mut id = [1u8; 16];
        id[8..].copy_from_slice(&n.to_be_bytes());
        id.to_vec()
    };
    let span = |k: u8| {
        let mut id = [k; 8];
        id[4..].copy_from_slice(
            &u32::try_from(n % u64::from(u32::MAX))
                .unwrap_or(0)
                .to_be_bytes(),
        );
        id.to_vec()
    };
    let task_id = format!("run-{n}");
    let common = |extra: Vec<KeyValue>| {
        let mut attributes = vec![s(conv::TASK_NAME, task_name), s(conv::TASK_ID, &task_id)];
        attributes.extend(extra);
        attributes
    };
    let start = T0 + n * 1_000_000;
    let enqueue = Span {
        trace_id: trace_id.clone(),
        span_id: span(1),
        name: format!("enqueue {task_name}"),
        kind: SpanKind::Producer as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1000,
        attributes: common(vec![s(
            conv::TASK_PARAMS,
            r#"{"message_id": 500, "api_key": "k"}"#,
        )]),
        ..Default::default()
    };
    let started = start + 5_000_000;
    let signal = Span {
        trace_id: trace_id.clone(),
        span_id: span(2),
        parent_span_id: span(3),
        name: format!("start {task_name}"),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: started,
        end_time_unix_nano: started,
        attributes: common(vec![
            s(conv::TASK_STATE, "running"),
            i(conv::TASK_ENQUEUED_AT, start as i64),
        ]),
        ..Default::default()
    };
    let mut run = Span {
        trace_id,
        span_id: span(3),
        parent_span_id: span(1),
        name: format!("run {task_name}"),
        kind: SpanKind::Consumer as i32,
        start_time_unix_nano: started,
        end_time_unix_nano: started + 250_000_000,
        attributes: common(vec![i(conv::TASK_ENQUEUED_AT, start as i64)]),
        ..Default::default()
    };
    if fail {
        run.status = Some(Status {
            message: "rate limit exceeded".into(),
            code: status::StatusCode::Error as i32,
        });
    }
    vec![enqueue, signal, run]
}

pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "workers"), s("host.name", "worker-7")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A collector whose database connections go through a fresh [`DbProxy`] the test can cut.
pub async fn collector_through_proxy(
    pool: &PgPool,
    config: CollectorConfig,
) -> (RunningCollector, DbProxy) {
    let proxy = DbProxy::to_server_of(pool).await;
    let store = proxy.store(pool).await;
    store
        .maintain(&tasklens_store::RetentionPolicy::new(30))
        .await
        .expect("partitions");
    let collector = tasklens_collector::start(config, Arc::new(store))
        .await
        .expect("collector starts");
    (collector, proxy)
}

pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run_count(store: &PgStore) -> i64 {
    store
        .history(&HistoryQuery::default())
        .await
        .map(|p| p.total_count)
        .unwrap_or(-1)
}

/// The collector's Prometheus page, from its admin address.
pub async fn metrics_page(admin: SocketAddr) -> String {
    reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// Events the collector has accepted and not yet answered, from its `/readyz` body.
pub async fn queued_events(admin: SocketAddr) -> usize {
    let body = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .expect("readyz")
        .text()
        .await
        .expect("text");
    body.split("; ")
        .nth(1)
        .and_then(|queue| queue.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no queue fill in /readyz: {body:?}"))
}
