//! `tasklens collector` as a separate process: OTLP in, rows and live events out to other
//! processes (the dashboard replicas), graceful stop on SIGTERM.

use std::io::BufRead;
use std::process::Command;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use sqlx::PgPool;
use tasklens_model::TaskStatus;
use tasklens_model::conventions as conv;
use tasklens_store::{PgStore, TaskStore};

mod common;
use common::{StartedCollector, start_collector};

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn run_span(task_id: &str) -> ExportTraceServiceRequest {
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos(),
    )
    .expect("fits");
    let span = Span {
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        name: "run score_message".into(),
        kind: SpanKind::Consumer as i32,
        start_time_unix_nano: now - 20_000_000,
        end_time_unix_nano: now,
        attributes: vec![
            attr(conv::TASK_NAME, "score_message"),
            attr(conv::TASK_ID, task_id),
        ],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[sqlx::test(migrations = false)]
async fn a_separate_collector_process_feeds_every_listening_replica(pool: PgPool) {
    let url = format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().expect("database")
    );
    let StartedCollector {
        mut child,
        http: http_addr,
        mut stdout,
    } = start_collector(&url);

    // Two dashboard replicas listening, in this process but on connections of their own.
    let store = PgStore::connect(&url, &Default::default())
        .await
        .expect("connect");
    let mut replica_a = store.subscribe().await.expect("subscribe");
    let mut replica_b = store.subscribe().await.expect("subscribe");

    let sent = Instant::now();
    let answer = reqwest::Client::new()
        .post(format!("http://{http_addr}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(run_span("proc-1").encode_to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 200);
    for replica in [&mut replica_a, &mut replica_b] {
        let events = tokio::time::timeout(Duration::from_secs(5), replica.recv_events())
            .await
            .expect("a live event within 5 s")
            .expect("recv");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].task_id, "proc-1");
        assert_eq!(events[0].status, TaskStatus::Success);
    }
    eprintln!(
        "request to live event on two replicas: {:?}",
        sent.elapsed()
    );
    assert_eq!(
        store
            .history(&Default::default())
            .await
            .expect("history")
            .total_count,
        1
    );

    // SIGTERM: a graceful stop.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("exit");
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_line(&mut rest).expect("last line");
    assert_eq!(rest.trim(), "collector stopped");
}
