//! Secrets in error text are redacted at ingest, on a real collector over a real PostgreSQL:
//! only the secret goes, the rest of the message and traceback is stored as sent.

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use prost::Message;
use reqwest::StatusCode;
use sqlx::PgPool;
use tasklens_model::TaskStatus;
use tasklens_model::conventions as conv;

const MESSAGE: &str = "could not sync orders from postgres://app:s3cret@db/x with token=abc123";
const REDACTED_MESSAGE: &str =
    "could not sync orders from postgres://app:[redacted]@db/x with token=[redacted]";

async fn post(addr: std::net::SocketAddr, path: &str, body: Vec<u8>) {
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::OK);
}

fn exception(message: &str, stacktrace: &str) -> Vec<KeyValue> {
    vec![
        s(conv::EXCEPTION_TYPE, "sync::Error"),
        s(conv::EXCEPTION_MESSAGE, message),
        s(conv::EXCEPTION_STACKTRACE, stacktrace),
    ]
}

/// Rows whose error text holds any of the secrets sent, read straight from the table.
async fn rows_with_secrets(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM task_execution_logs
         WHERE concat(error_message, error_traceback) ~ '(s3cret|abc123|hunter2|eyJhbGci)'",
    )
    .fetch_one(pool)
    .await
    .expect("count")
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_in_error_messages_and_tracebacks_are_not_stored(pool: PgPool) {
    let (collector, store) = collector(pool.clone(), test_config()).await;

    // A failed run whose exception event and error chain carry secrets.
    let mut spans = tasklens_spans(1, "sync_orders", true);
    let run = &mut spans[2];
    run.events.push(Event {
        time_unix_nano: run.end_time_unix_nano,
        name: conv::EXCEPTION_EVENT.into(),
        attributes: exception(
            MESSAGE,
            "   0: sync::orders::fetch\n             at ./src/orders.rs:12:5",
        ),
        ..Default::default()
    });
    run.attributes.push(s(
        conv::ERROR_CHAIN,
        "password=hunter2 rejected by the server\nconnection closed",
    ));
    post(
        collector.http_addr,
        "/v1/traces",
        request(spans).encode_to_vec(),
    )
    .await;

    // A second failed run, whose exception arrives as a log record joined to its run span.
    let spans = tasklens_spans(2, "sync_orders", true);
    let record = LogRecord {
        time_unix_nano: spans[2].end_time_unix_nano,
        trace_id: spans[2].trace_id.clone(),
        span_id: spans[2].span_id.clone(),
        attributes: exception(
            "sync failed: Authorization: Bearer eyJhbGci.x.y refused",
            "Traceback (most recent call last):\n  File \"/app/sync.py\", line 3, in run\nRuntimeError: token=abc123",
        ),
        ..Default::default()
    };
    post(
        collector.http_addr,
        "/v1/traces",
        request(spans).encode_to_vec(),
    )
    .await;
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    post(collector.http_addr, "/v1/logs", logs.encode_to_vec()).await;

    let all = runs(&store).await;
    let run = |task_id: &str| {
        all.iter()
            .find(|r| r.state.task_id == task_id)
            .map(|r| r.state.clone())
            .unwrap_or_else(|| panic!("{task_id} stored: {all:?}"))
    };
    let first = run("run-1");
    assert_eq!(first.status, TaskStatus::Failed);
    assert_eq!(first.error_message.as_deref(), Some(REDACTED_MESSAGE));
    assert_eq!(
        first.error_traceback.as_deref(),
        Some(
            "   0: sync::orders::fetch\n             at ./src/orders.rs:12:5\n\nCaused by:\n\
             password=[redacted] rejected by the server\nconnection closed"
        )
    );
    let second = run("run-2");
    assert_eq!(second.status, TaskStatus::Failed);
    assert_eq!(
        second.error_message.as_deref(),
        Some("sync failed: Authorization: Bearer [redacted] refused")
    );
    assert!(
        second
            .error_traceback
            .as_deref()
            .is_some_and(|t| t.ends_with("in run\nRuntimeError: token=[redacted]")),
        "{second:?}"
    );
    assert_eq!(rows_with_secrets(&pool).await, 0);
    collector.shutdown().await.expect("shutdown");
}
