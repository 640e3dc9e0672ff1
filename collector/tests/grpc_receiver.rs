//! OTLP/gRPC (and the Rust OTLP exporter over both transports) against a real collector and a
//! real PostgreSQL.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter};
use sqlx::PgPool;
use tasklens_collector::CollectorConfig;
use tasklens_model::TaskStatus;
use tasklens_model::conventions as conv;
use tonic::Code;

/// Spans of one run (enqueue, start, run), made with the OpenTelemetry SDK as an application
/// would, captured in memory so a real OTLP exporter can send them.
fn sdk_spans(task_id: &str, fail: bool) -> Vec<SpanData> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .with_resource(Resource::builder().with_service_name("workers").build())
        .build();
    let tracer = provider.tracer("tasklens-test");
    let attributes = |extra: Vec<KeyValue>| {
        let mut all = vec![
            KeyValue::new(conv::TASK_NAME, "score_message"),
            KeyValue::new(conv::TASK_ID, task_id.to_owned()),
        ];
        all.extend(extra);
        all
    };
    let mut enqueue = tracer
        .span_builder("enqueue score_message")
        .with_kind(SpanKind::Producer)
        .with_attributes(attributes(vec![KeyValue::new(
            conv::TASK_PARAMS,
            r#"{"message_id": 7}"#,
        )]))
        .start(&tracer);
    enqueue.end();
    let mut start = tracer
        .span_builder("start score_message")
        .with_kind(SpanKind::Internal)
        .with_attributes(attributes(vec![KeyValue::new(conv::TASK_STATE, "running")]))
        .start(&tracer);
    start.end();
    let mut run = tracer
        .span_builder("run score_message")
        .with_kind(SpanKind::Consumer)
        .with_attributes(attributes(vec![]))
        .start(&tracer);
    if fail {
        run.add_event(
            "exception",
            vec![
                KeyValue::new(conv::EXCEPTION_TYPE, "RateLimitError"),
                KeyValue::new(conv::EXCEPTION_MESSAGE, "OpenAI API rate limit exceeded"),
                KeyValue::new(
                    conv::EXCEPTION_STACKTRACE,
                    "at score_message (worker.rs:12)",
                ),
            ],
        );
        run.set_status(Status::error("OpenAI API rate limit exceeded"));
    }
    // A run that took 5 ms, without waiting 5 ms.
    run.end_with_timestamp(std::time::SystemTime::now() + Duration::from_millis(5));
    memory.get_finished_spans().expect("finished spans")
}

#[sqlx::test(migrations = "../migrations")]
async fn the_rust_otlp_exporter_delivers_over_grpc_and_http(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;

    let resource = Resource::builder().with_service_name("workers").build();
    let mut grpc = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", collector.grpc_addr))
        .with_compression(opentelemetry_otlp::Compression::Gzip)
        .build()
        .expect("grpc exporter");
    // The SDK hands the resource to its exporter; here the test is the SDK.
    grpc.set_resource(&resource);
    grpc.export(sdk_spans("grpc-1", false))
        .await
        .expect("export over gRPC");
    grpc.export(sdk_spans("grpc-2", true))
        .await
        .expect("export over gRPC");

    for (protocol, id) in [
        (Protocol::HttpBinary, "http-proto"),
        (Protocol::HttpJson, "http-json"),
    ] {
        let mut http = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(format!("http://{}/v1/traces", collector.http_addr))
            .build()
            .expect("http exporter");
        http.set_resource(&resource);
        http.export(sdk_spans(id, false))
            .await
            .expect("export over HTTP");
    }

    let all = runs(&store).await;
    let by_id = |id: &str| {
        all.iter()
            .find(|r| r.state.task_id == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    for id in ["grpc-1", "http-proto", "http-json"] {
        let run = by_id(id);
        assert_eq!(run.state.status, TaskStatus::Success, "{id}");
        assert_eq!(run.state.service_name.as_deref(), Some("workers"));
        assert!(run.state.trace_id.is_some() && run.state.span_id.is_some());
        assert!(run.state.params.is_some(), "{id}");
    }
    let failed = by_id("grpc-2");
    assert_eq!(failed.state.status, TaskStatus::Failed);
    assert_eq!(
        failed.state.error_message.as_deref(),
        Some("OpenAI API rate limit exceeded")
    );
    assert_eq!(failed.state.error_type.as_deref(), Some("RateLimitError"));
    assert!(
        failed
            .state
            .error_traceback
            .as_deref()
            .is_some_and(|t| t.contains("worker.rs:12"))
    );
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn grpc_answers_each_error_with_its_code(pool: PgPool) {
    let config = CollectorConfig {
        token: Some("s3cret".into()),
        max_request_bytes: 64 * 1024,
        ..test_config()
    };
    let (collector, store) = collector(pool, config).await;
    let endpoint = format!("http://{}", collector.grpc_addr);
    let mut client = TraceServiceClient::connect(endpoint.clone())
        .await
        .expect("connect");

    let small = request(tasklens_spans(1, "score_message", false));
    let status = client.export(small.clone()).await.expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut wrong = tonic::Request::new(small.clone());
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer nope".parse().expect("metadata"));
    assert_eq!(
        client.export(wrong).await.expect_err("wrong token").code(),
        Code::Unauthenticated
    );

    let with_token = |req: ExportTraceServiceRequest| {
        let mut r = tonic::Request::new(req);
        r.metadata_mut()
            .insert("authorization", "Bearer s3cret".parse().expect("metadata"));
        r
    };
    let answer = client
        .export(with_token(small))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    assert_eq!(run_count(&store).await, 1);
    let answer = client
        .export(with_token(ExportTraceServiceRequest::default()))
        .await;
    assert!(answer.is_ok(), "an empty request is a success");

    // Over the limit, plain and gzip: RESOURCE_EXHAUSTED (not OUT_OF_RANGE, which clients retry).
    let mut big = tasklens_spans(2, "score_message", false);
    big[0].name = "x".repeat(100 * 1024);
    let status = client
        .export(with_token(request(big.clone())))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let mut gzip_client = TraceServiceClient::connect(endpoint)
        .await
        .expect("connect")
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let status = gzip_client
        .export(with_token(request(big)))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // Exporter with the token in its metadata.
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", "Bearer s3cret".parse().expect("metadata"));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", collector.grpc_addr))
        .with_metadata(metadata)
        .build()
        .expect("exporter");
    exporter
        .export(sdk_spans("with-token", false))
        .await
        .expect("export");
    let http = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{}/v1/traces", collector.http_addr))
        .with_headers(HashMap::from([(
            "authorization".to_owned(),
            "Bearer s3cret".to_owned(),
        )]))
        .build()
        .expect("exporter");
    http.export(sdk_spans("with-token-http", false))
        .await
        .expect("export");
    assert_eq!(run_count(&store).await, 3);
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn grpc_says_unavailable_with_a_retry_delay_while_the_database_is_down(pool: PgPool) {
    let (collector, proxy) = collector_through_proxy(&pool, test_config()).await;
    let mut client = TraceServiceClient::connect(format!("http://{}", collector.grpc_addr))
        .await
        .expect("connect");
    proxy.cut();
    let status = client
        .export(request(tasklens_spans(1, "score_message", false)))
        .await
        .expect_err("database down");
    assert_eq!(status.code(), Code::Unavailable);
    use tonic_types::StatusExt;
    let retry = status.get_details_retry_info().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
    proxy.restore();
    let client = &client;
    wait_until("accepted again once the database is back", || async move {
        client
            .clone()
            .export(request(tasklens_spans(1, "score_message", false)))
            .await
            .is_ok()
    })
    .await;
    let direct = tasklens_store::PgStore::from_pool(pool);
    assert_eq!(run_count(&direct).await, 1);
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn shutdown_commits_and_answers_everything_accepted(pool: PgPool) {
    let mut config = test_config();
    // A long batch delay keeps requests in the queue when the shutdown comes.
    config.pipeline.batch_max_delay = Duration::from_secs(2);
    config.pipeline.batch_max_events = 100_000;
    let (collector, store) = collector(pool, config).await;
    let endpoint = format!("http://{}", collector.grpc_addr);
    let mut senders = Vec::new();
    for n in 0..20 {
        let endpoint = endpoint.clone();
        senders.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::connect(endpoint)
                .await
                .expect("connect");
            client
                .export(request(tasklens_spans(n, "score_message", false)))
                .await
        }));
    }
    // Shut down once every request is accepted (queued, or already committed if a batch left
    // early) and some still wait for their commit.
    let admin = collector.admin_addr;
    wait_until("every request accepted, some still queued", || async {
        let queued = queued_events(admin).await;
        queued > 0 && queued / 3 + usize::try_from(run_count(&store).await).unwrap_or(0) == 20
    })
    .await;
    collector.shutdown().await.expect("graceful shutdown");
    let mut acknowledged = 0;
    for sender in senders {
        if sender.await.expect("sender").is_ok() {
            acknowledged += 1;
        }
    }
    assert_eq!(
        acknowledged, 20,
        "every request in flight was answered with success"
    );
    assert_eq!(runs(&store).await.len(), 20);
}

#[sqlx::test(migrations = "../migrations")]
async fn requests_beyond_the_ingest_concurrency_are_told_to_retry_before_their_bodies_are_read(
    pool: PgPool,
) {
    use prost::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tonic_types::StatusExt;

    let mut config = test_config();
    config.ingest_concurrency = 1;
    let (collector, store) = collector(pool, config).await;

    // A sender whose body is still on its way holds the only slot.
    let body = request(tasklens_spans(1, "score_message", false)).encode_to_vec();
    let mut slow = tokio::net::TcpStream::connect(collector.http_addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: tasklens\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("head");
    slow.write_all(&body[..body.len() / 2]).await.expect("half");

    // Another sender is told to retry, with a delay, once the slow one holds the slot.
    let mut client = TraceServiceClient::connect(format!("http://{}", collector.grpc_addr))
        .await
        .expect("connect");
    let mut refusal = None;
    for _ in 0..200 {
        match client
            .export(request(tasklens_spans(2, "score_message", false)))
            .await
        {
            Err(status) => {
                refusal = Some(status);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let refusal = refusal.expect("a request refused while the slot is held");
    assert_eq!(refusal.code(), Code::Unavailable, "{refusal:?}");
    assert!(
        refusal.message().contains("too many requests"),
        "{refusal:?}"
    );
    let retry = refusal.get_details_retry_info().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));

    // Over HTTP too, and without reading the body: garbage would be a 400 once decoded.
    let answer = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", collector.http_addr))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff; 64])
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers()["retry-after"], "1");

    // The slow sender finishes and is accepted; then the refused one gets in.
    slow.write_all(&body[body.len() / 2..]).await.expect("rest");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    client
        .export(request(tasklens_spans(2, "score_message", false)))
        .await
        .expect("accepted once the slot is free");
    assert_eq!(run_count(&store).await, 2);
    assert!(
        metrics_page(collector.admin_addr).await.lines().any(|l| l
            .starts_with("tasklens_collector_requests_refused_total")
            && l.contains("reason=\"busy\"")),
        "busy refusals are counted"
    );
    collector.shutdown().await.expect("shutdown");
}
