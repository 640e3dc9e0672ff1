//! `tasklens up` as a new user runs it: one process on free ports with a fresh data directory
//! and no database configured (the embedded SQLite store). OTLP spans in; rows through the REST
//! API and status changes over the WebSocket out; a restart keeps the data; `--demo` makes the
//! page alive by itself.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use serde_json::Value;
use tasklens_model::conventions as conv;
use tokio_tungstenite::tungstenite::Message;

/// Generous: every wait ends as soon as its condition holds.
const WAIT: Duration = Duration::from_secs(30);

struct Up {
    child: Child,
    /// host:port of the dashboard API.
    api: String,
    /// host:port of OTLP/HTTP.
    otlp_http: String,
    banner: Vec<String>,
}

/// A failed assertion must not leave the process running.
impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn address_after_http(line: &str) -> String {
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ' ']).next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned()
}

fn start(data_dir: &Path, extra: &[&str]) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasklens"))
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args([
            "--otlp-grpc-addr",
            "127.0.0.1:0",
            "--otlp-http-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(extra)
        // A new user's shell: no database configured, whatever the test runner has.
        .env_remove("TASKLENS_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("TASKLENS_OTLP_TOKEN")
        .env_remove("TASKLENS_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = Vec::new();
    let (mut api, mut otlp_http) = (None, None);
    loop {
        let mut line = String::new();
        let read = stdout.read_line(&mut line).expect("stdout");
        assert!(
            read > 0,
            "tasklens up exited before it was ready: {banner:?}"
        );
        let trimmed = line.trim().to_owned();
        if trimmed.starts_with("page:") {
            api = Some(address_after_http(
                trimmed.rsplit("API on").next().unwrap_or(&trimmed),
            ));
        } else if trimmed.starts_with("OTLP/HTTP:") {
            otlp_http = Some(address_after_http(&trimmed));
        }
        let last = trimmed.starts_with("health and metrics:");
        banner.push(trimmed);
        if last {
            break;
        }
    }
    // Keep reading what it prints so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});
    Up {
        child,
        api: api.expect("api"),
        otlp_http: otlp_http.expect("otlp"),
        banner,
    }
}

fn stop(mut up: Up) {
    let up = &mut up;
    let killed = Command::new("kill")
        .args(["-TERM", &up.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = up.child.try_wait().expect("wait") {
            assert!(status.success(), "tasklens up exited with {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tasklens up did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_nanos() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos(),
    )
    .expect("fits")
}

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// One span of the tasklens conventions, as an OTLP/HTTP protobuf body.
fn span_request(task_id: &str, name: &str, kind: SpanKind, span_id: u8) -> Vec<u8> {
    let now = now_nanos();
    let span = Span {
        trace_id: vec![7; 16],
        span_id: vec![span_id; 8],
        name: format!("{name} score_message"),
        kind: kind as i32,
        start_time_unix_nano: now - 30_000_000,
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
    .encode_to_vec()
}

async fn post_span(client: &reqwest::Client, up: &Up, body: Vec<u8>) {
    let response = client
        .post(format!("http://{}/v1/traces", up.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("OTLP/HTTP answers");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

async fn get_json(client: &reqwest::Client, up: &Up, path: &str) -> Value {
    let response = client
        .get(format!("http://{}{path}", up.api))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_str(&response.text().await.expect("body")).expect("json")
}

/// The next status change on the socket, skipping other messages.
async fn next_change(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str()).expect("json");
            if message["type"] == "task_status_changed" {
                return message;
            }
        }
    }
}

#[tokio::test]
async fn up_on_the_embedded_store_takes_spans_serves_rows_and_live_events_and_keeps_them() {
    let data = tempfile::tempdir().expect("temp dir");
    let data_dir = data.path().join("fresh"); // does not exist yet: up creates it
    let client = reqwest::Client::new();

    let up = start(&data_dir, &[]);
    assert!(up.banner[0].contains("SQLite"), "{:?}", up.banner);
    assert!(data_dir.join("tasklens.sqlite3").exists());

    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/monitoring/ws", up.api))
            .await
            .expect("the WebSocket opens");

    // Enqueued, then finished: two status changes, live and then in the history.
    post_span(
        &client,
        &up,
        span_request("up-run-1", "enqueue", SpanKind::Producer, 1),
    )
    .await;
    let pending = next_change(&mut ws).await;
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(pending["data"]["task_id"], "up-run-1");
    post_span(
        &client,
        &up,
        span_request("up-run-1", "run", SpanKind::Consumer, 2),
    )
    .await;
    let success = next_change(&mut ws).await;
    assert_eq!(success["status"], "success", "{success}");
    assert_eq!(success["data"]["previous_status"], "pending");

    let history = get_json(&client, &up, "/api/v1/monitoring/history").await;
    assert_eq!(history["total_count"], 1, "{history}");
    assert_eq!(history["items"][0]["task_id"], "up-run-1");
    assert_eq!(history["items"][0]["status"], "success");
    let metrics = get_json(&client, &up, "/api/v1/monitoring/metrics").await;
    assert_eq!(
        metrics["metrics"][0]["task_name"], "score_message",
        "{metrics}"
    );
    assert_eq!(metrics["metrics"][0]["success"], 1);
    drop(ws);
    stop(up);

    // A restart on the same directory keeps the run.
    let up = start(&data_dir, &[]);
    let history = get_json(&client, &up, "/api/v1/monitoring/history").await;
    assert_eq!(history["total_count"], 1, "{history}");
    assert_eq!(history["items"][0]["task_id"], "up-run-1");
    assert_eq!(history["items"][0]["status"], "success");
    stop(up);
}

#[tokio::test]
async fn up_with_demo_fills_the_page_by_itself() {
    let data = tempfile::tempdir().expect("temp dir");
    let client = reqwest::Client::new();
    let up = start(data.path(), &["--demo", "--demo-rate", "40"]);
    assert!(
        up.banner.iter().any(|line| line.starts_with("demo worker")),
        "{:?}",
        up.banner
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let metrics = get_json(&client, &up, "/api/v1/monitoring/metrics").await;
        let types = metrics["metrics"].as_array().map_or(0, Vec::len);
        let finished: i64 = metrics["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["success"].as_i64().unwrap_or(0) + m["failed"].as_i64().unwrap_or(0))
            .sum();
        if types >= 3 && finished >= 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not fill the store: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop(up);
}
