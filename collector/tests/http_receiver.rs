//! OTLP/HTTP against a real collector and a real PostgreSQL.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tasklens_collector::CollectorConfig;
use tasklens_model::TaskStatus;
use tasklens_store::TaskStore;

fn url(addr: std::net::SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

async fn post(
    addr: std::net::SocketAddr,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url(addr, "/v1/traces"))
        .header("content-type", content_type)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

#[sqlx::test(migrations = "../migrations")]
async fn protobuf_json_and_gzip_requests_become_runs(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;

    let proto = request(tasklens_spans(1, "score_message", false)).encode_to_vec();
    let answer = post(collector.http_addr, "application/x-protobuf", proto, &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "application/x-protobuf");
    let body =
        ExportTraceServiceResponse::decode(answer.bytes().await.expect("body")).expect("decode");
    assert_eq!(body.partial_success, None);
    // Answered only after the commit: the run is there already.
    let all = runs(&store).await;
    assert_eq!(all.len(), 1);
    let run = &all[0];
    assert_eq!(run.state.status, TaskStatus::Success);
    assert_eq!(run.state.task_id, "run-1");
    assert_eq!(run.duration_ms(), Some(250));
    assert_eq!(run.queue_wait_ms(), Some(5));
    assert_eq!(run.state.service_name.as_deref(), Some("workers"));
    assert_eq!(run.state.worker_host.as_deref(), Some("worker-7"));
    let params = run.state.params.as_ref().expect("params");
    assert_eq!(params["message_id"], 500);
    assert_eq!(
        params["api_key"], "[redacted]",
        "redacted whatever the sender did"
    );

    let json =
        serde_json::to_vec(&request(tasklens_spans(2, "score_message", true))).expect("json");
    let answer = post(collector.http_addr, "application/json", json, &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let body: Value = answer.json().await.expect("json body");
    assert!(
        body.get("partialSuccess").is_none_or(Value::is_null),
        "{body}"
    );

    let gz = gzip(&request(tasklens_spans(3, "embed_atoms_batch", false)).encode_to_vec());
    let answer = post(
        collector.http_addr,
        "application/x-protobuf",
        gz,
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);

    let all = runs(&store).await;
    assert_eq!(all.len(), 3);
    let failed = all
        .iter()
        .find(|r| r.state.task_id == "run-2")
        .expect("run-2");
    assert_eq!(failed.state.status, TaskStatus::Failed);
    assert_eq!(
        failed.state.error_message.as_deref(),
        Some("rate limit exceeded")
    );
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_error_answer_follows_the_otlp_rules(pool: PgPool) {
    let config = CollectorConfig {
        max_request_bytes: 64 * 1024,
        ..test_config()
    };
    let (collector, store) = collector(pool, config).await;
    let addr = collector.http_addr;

    // An empty request is a success.
    let empty = ExportTraceServiceRequest::default().encode_to_vec();
    assert_eq!(
        post(addr, "application/x-protobuf", empty, &[])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        post(addr, "application/json", b"{}".to_vec(), &[])
            .await
            .status(),
        StatusCode::OK
    );

    // Unknown content type: 415.
    let answer = post(addr, "text/plain", b"hello".to_vec(), &[]).await;
    assert_eq!(answer.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Malformed payloads: 400 with a google.rpc.Status naming the reason, in the request's type.
    let answer = post(addr, "application/x-protobuf", vec![0xff, 0xff, 0xff], &[]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let status = tasklens_collector::http::RpcStatus::decode(answer.bytes().await.expect("body"))
        .expect("a google.rpc.Status");
    assert_eq!(status.code, 3);
    assert!(
        status.message.contains("invalid protobuf"),
        "{}",
        status.message
    );
    let answer = post(
        addr,
        "application/json",
        b"{\"resourceSpans\": 7}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid OTLP/JSON")),
        "{body}"
    );
    let answer = post(
        addr,
        "application/x-protobuf",
        b"not gzip".to_vec(),
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);

    // Over the limit: 413, compressed or after decompression.
    let answer = post(addr, "application/x-protobuf", vec![0; 100 * 1024], &[]).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bomb = gzip(&vec![0; 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let answer = post(
        addr,
        "application/x-protobuf",
        bomb,
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer = post(
        addr,
        "application/x-protobuf",
        vec![],
        &[("content-encoding", "br")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Wrong method: 405.
    let answer = reqwest::get(url(addr, "/v1/traces")).await.expect("get");
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);

    // A task span that can never be accepted: partial_success, the rest is written.
    let mut spans = tasklens_spans(10, "score_message", false);
    spans[2]
        .attributes
        .retain(|kv| kv.key != tasklens_model::conventions::TASK_ID);
    spans.extend(tasklens_spans(11, "score_message", false));
    let answer = post(
        addr,
        "application/x-protobuf",
        request(spans).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body =
        ExportTraceServiceResponse::decode(answer.bytes().await.expect("body")).expect("decode");
    let partial = body.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(!partial.error_message.is_empty());
    assert!(
        runs(&store)
            .await
            .iter()
            .any(|r| r.state.task_id == "run-11")
    );

    // Spans that are not task runs are ignored, not refused.
    let mut other = tasklens_spans(12, "x", false).remove(0);
    other.attributes.clear();
    let answer = post(
        addr,
        "application/x-protobuf",
        request(vec![other]).encode_to_vec(),
        &[],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_token_is_required_when_configured(pool: PgPool) {
    let config = CollectorConfig {
        token: Some("s3cret".into()),
        ..test_config()
    };
    let (collector, store) = collector(pool, config).await;
    let body = request(tasklens_spans(1, "score_message", false)).encode_to_vec();
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong")],
        vec![("authorization", "s3cret")],
    ] {
        let answer = post(
            collector.http_addr,
            "application/x-protobuf",
            body.clone(),
            &headers,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    assert_eq!(run_count(&store).await, 0);
    let answer = post(
        collector.http_addr,
        "application/x-protobuf",
        body,
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(run_count(&store).await, 1);
    collector.shutdown().await.expect("shutdown");
}

/// Requests refused because the database was unavailable, from the Prometheus page.
async fn unavailable_refusals(admin: std::net::SocketAddr) -> f64 {
    metrics_page(admin)
        .await
        .lines()
        .filter(|line| {
            line.starts_with("tasklens_collector_requests_refused_total")
                && line.contains("reason=\"unavailable\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends until accepted, as an exporter retries on 503; fails the test after a deadline with
/// how often it was refused, instead of retrying forever.
async fn send_with_retry(addr: std::net::SocketAddr, body: Vec<u8>) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut refusals = 0;
    loop {
        let answer = post(addr, "application/x-protobuf", body.clone(), &[]).await;
        match answer.status() {
            StatusCode::OK => return refusals,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(answer.headers().contains_key("retry-after"));
                refusals += 1;
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still refused after {refusals} tries in 60 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("unexpected answer {other}"),
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_database_outage_loses_no_acknowledged_run(pool: PgPool) {
    let (collector, proxy) = collector_through_proxy(&pool, test_config()).await;
    let direct = tasklens_store::PgStore::from_pool(pool);
    let admin = format!("http://{}/readyz", collector.admin_addr);
    assert_eq!(
        reqwest::get(&admin).await.expect("readyz").status(),
        StatusCode::OK
    );

    let sender = tokio::spawn({
        let addr = collector.http_addr;
        async move {
            let mut refusals = 0;
            for n in 0..60 {
                let body =
                    request(tasklens_spans(n, "embed_messages_batch", n % 7 == 0)).encode_to_vec();
                refusals += send_with_retry(addr, body).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            refusals
        }
    });
    // The outage starts once some runs are stored, while the sender is still sending.
    wait_until("the first runs to be stored", || async {
        run_count(&direct).await > 0
    })
    .await;
    let refused_before = unavailable_refusals(collector.admin_addr).await;
    proxy.cut();
    wait_until(
        "/readyz to fail while the database is unreachable",
        || async {
            reqwest::get(&admin)
                .await
                .is_ok_and(|answer| answer.status() == StatusCode::SERVICE_UNAVAILABLE)
        },
    )
    .await;
    // The recorder is the process's, shared with the other tests: wait for this outage's refusal.
    wait_until("a sender to be told to retry during the outage", || async {
        unavailable_refusals(collector.admin_addr).await > refused_before
    })
    .await;
    proxy.restore();
    let refusals = sender.await.expect("sender");
    assert!(refusals > 0, "the outage was noticed by the sender");
    let all = runs(&direct).await;
    assert_eq!(all.len(), 60, "every acknowledged run is stored");
    assert!(all.iter().all(|r| r.state.status.is_finished()));
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_full_queue_tells_senders_to_retry_at_once(pool: PgPool) {
    let mut config = test_config();
    config.pipeline.queue_capacity = 3;
    let (collector, proxy) = collector_through_proxy(&pool, config).await;
    proxy.stall();
    // The first request's three events fill the queue; its write hangs on the stalled database.
    let addr = collector.http_addr;
    let first = tokio::spawn(async move {
        send_with_retry(
            addr,
            request(tasklens_spans(1, "score_message", false)).encode_to_vec(),
        )
        .await
    });
    // Until the first request's events hold the queue, a second one may be admitted and wait
    // for the stalled database (it is then refused as unavailable); once they do, it is refused
    // as queue-full before its body is read.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (refused_status, refused_retry_after) = loop {
        let answer = post(
            addr,
            "application/x-protobuf",
            request(tasklens_spans(2, "score_message", false)).encode_to_vec(),
            &[],
        )
        .await;
        let status = answer.status();
        let retry_after = answer.headers().get("retry-after").cloned();
        let body = tasklens_collector::http::RpcStatus::decode(answer.bytes().await.expect("body"))
            .expect("an OTLP status");
        if body.message == "the ingest queue is full" {
            break (status, retry_after);
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", body.message);
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refused as queue-full in 30 s; last refusal: {}",
            body.message
        );
    };
    assert_eq!(refused_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused_retry_after.expect("retry-after"), "1");
    assert!(
        !first.is_finished(),
        "refused while the request holding the queue still waits for the database"
    );
    proxy.restore();
    first.await.expect("first request ends");
    send_with_retry(
        addr,
        request(tasklens_spans(2, "score_message", false)).encode_to_vec(),
    )
    .await;
    let direct = tasklens_store::PgStore::from_pool(pool);
    assert_eq!(runs(&direct).await.len(), 2);
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn health_and_metrics(pool: PgPool) {
    let (collector, _store) = collector(pool, test_config()).await;
    let body = request(tasklens_spans(1, "score_message", false)).encode_to_vec();
    assert_eq!(
        post(collector.http_addr, "application/x-protobuf", body, &[])
            .await
            .status(),
        StatusCode::OK
    );
    let base = format!("http://{}", collector.admin_addr);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .expect("healthz")
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .expect("readyz")
            .status(),
        StatusCode::OK
    );
    let metrics = metrics_page(collector.admin_addr).await;
    for name in [
        "tasklens_collector_spans_received_total{source=\"tasklens\"}",
        "tasklens_collector_task_runs_written_total",
        "tasklens_collector_commit_seconds",
        "tasklens_collector_batch_events",
        "tasklens_collector_queue_events",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_runs_on_its_schedule_inside_the_service(pool: PgPool) {
    let store = tasklens_store::PgStore::from_pool(pool.clone());
    // A run first seen 45 days ago: outside the 30-day retention.
    let long_ago = chrono::Utc::now() - chrono::TimeDelta::days(45);
    let key = tasklens_model::RunKey {
        source: tasklens_model::SourceSystem::Celery,
        task_id: "ancient".into(),
        attempt: 0,
    };
    store
        .write_batch(vec![tasklens_model::TaskRunEvent {
            observed_at: long_ago,
            run: tasklens_model::RunState::new(key, "scheduled_daily_digest", TaskStatus::Pending),
        }])
        .await
        .expect("write");
    assert_eq!(run_count(&store).await, 1);
    let mut config = test_config();
    config.maintenance_interval = Duration::from_millis(100);
    // Started directly: the test helper's own maintenance run would remove the row itself.
    let collector = tasklens_collector::start(config, std::sync::Arc::new(store.clone()))
        .await
        .expect("start");
    wait_until("retention inside the collector", || async {
        run_count(&store).await == 0
    })
    .await;
    collector.shutdown().await.expect("shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_does_not_wait_for_the_batch_before_it(pool: PgPool) {
    let mut config = test_config();
    config.pipeline.batch_writers = 2;
    let (collector, store) = collector(pool.clone(), config).await;
    let addr = collector.http_addr;
    let send = |n: u64| async move {
        post(
            addr,
            "application/x-protobuf",
            request(tasklens_spans(n, "score_message", false)).encode_to_vec(),
            &[],
        )
        .await
        .status()
    };
    assert_eq!(send(1).await, StatusCode::OK);
    // Another session holds the first run's key: a batch touching that run waits for it.
    let mut holder = pool.begin().await.expect("begin");
    sqlx::query("SELECT run_key FROM task_run_keys FOR UPDATE")
        .fetch_all(&mut *holder)
        .await
        .expect("lock the run keys");
    let blocked = tokio::spawn(send(1));
    wait_until("the resent run's batch waits for the key", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE '%task_run_keys%'",
            )
            .fetch_one(&pool)
            .await
            .is_ok_and(|waiting| waiting > 0)
        }
    })
    .await;
    // A new run goes through the second writer and is answered meanwhile.
    let other = tokio::time::timeout(Duration::from_secs(20), send(2))
        .await
        .expect("answered while the batch before it still waits");
    assert_eq!(other, StatusCode::OK);
    assert!(!blocked.is_finished(), "the first batch still waits");
    holder.rollback().await.expect("release");
    assert_eq!(blocked.await.expect("answer"), StatusCode::OK);
    assert_eq!(runs(&store).await.len(), 2);
}
