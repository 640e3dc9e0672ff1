//! The REST contract on a real PostgreSQL: shapes, figures, filters and every refusal.

mod common;

use chrono::{TimeDelta, Utc};
use common::{Api, Run, keys, sorted, store, write};
use serde_json::Value;
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::TaskStatus::{Failed, Pending, Running, Success};

const METRIC_KEYS: &[&str] = &[
    "service",
    "environment",
    "task_name",
    "total_executions",
    "pending",
    "running",
    "success",
    "failed",
    "avg_duration_ms",
    "success_rate",
    "p50_duration_ms",
    "p95_duration_ms",
    "p99_duration_ms",
    "avg_queue_wait_ms",
    "p50_queue_wait_ms",
    "p95_queue_wait_ms",
    "p99_queue_wait_ms",
];

const HISTORY_ITEM_KEYS: &[&str] = &[
    "service_name",
    "environment",
    "id",
    "task_name",
    "status",
    "params",
    "started_at",
    "completed_at",
    "duration_ms",
    "error_message",
    "error_traceback",
    "created_at",
    "task_id",
    "attempt",
    "source",
    "queue",
    "queue_wait_ms",
    "updated_at",
];

/// Ten minutes ago, and `minutes` later.
fn at(minutes: i64) -> chrono::DateTime<Utc> {
    Utc::now() - TimeDelta::minutes(10) + TimeDelta::minutes(minutes)
}

/// Seven runs of two task types in the last ten minutes, plus one 30 hours ago.
fn seed() -> Vec<Run> {
    vec![
        Run::new("s1", "score_message", at(0), Success).duration(1000),
        Run::new("s2", "score_message", at(1), Success).duration(2000),
        Run::new("s3", "score_message", at(2), Failed),
        Run::new("s4", "score_message", at(3), Running),
        Run::new("e1", "embed_messages_batch", at(4), Success).duration(500),
        Run::new("e2", "embed_messages_batch", at(5), Pending),
        Run::new("e3", "embed_messages_batch", at(6), Failed).error("connection reset by peer"),
        Run::new(
            "old",
            "scheduled_daily_digest",
            Utc::now() - TimeDelta::hours(30),
            Success,
        ),
    ]
}

async fn seeded(pool: PgPool) -> Api {
    let store = store(pool).await;
    write(&store, &seed()).await;
    Api::start(store, ApiConfig::default()).await
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_answer_the_seed_contract_with_percentiles(pool: PgPool) {
    let api = seeded(pool).await;
    let body = api.get_ok("/api/v1/monitoring/metrics").await;
    assert_eq!(
        keys(&body),
        sorted(&["time_window_hours", "generated_at", "metrics"])
    );
    assert_eq!(body["time_window_hours"], 24);
    assert!(chrono::DateTime::parse_from_rfc3339(str_of(&body, "generated_at")).is_ok());
    let metrics = body["metrics"].as_array().expect("metrics");
    let names: Vec<&str> = metrics.iter().map(|m| str_of(m, "task_name")).collect();
    assert_eq!(
        names,
        ["embed_messages_batch", "score_message"],
        "sorted, 24 h only"
    );
    for item in metrics {
        assert_eq!(keys(item), sorted(METRIC_KEYS));
    }
    let score = &metrics[1];
    assert_eq!(score["total_executions"], 4);
    assert_eq!(
        (
            &score["pending"],
            &score["running"],
            &score["success"],
            &score["failed"]
        ),
        (
            &Value::from(0),
            &Value::from(1),
            &Value::from(2),
            &Value::from(1)
        )
    );
    assert_eq!(score["success_rate"], 50.0);
    let avg = score["avg_duration_ms"].as_f64().expect("avg");
    assert!((avg - 4000.0 / 3.0).abs() < 1.0, "{avg}");
    // Finished durations 1000, 1000 and 2000 ms, each waited 40 ms in the queue; the histogram
    // answers within its relative error.
    let near = |key: &str, expected: f64| {
        let value = score[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {score}"));
        assert!(
            (value - expected).abs() <= expected * 0.05,
            "{key} = {value}, expected about {expected}"
        );
    };
    near("p50_duration_ms", 1000.0);
    near("p95_duration_ms", 2000.0);
    near("p99_duration_ms", 2000.0);
    near("p50_queue_wait_ms", 40.0);
    near("p95_queue_wait_ms", 40.0);
    let embed = &metrics[0];
    assert_eq!(embed["success_rate"], 33.33, "two decimals");
    // No run of this type has finished in the window: null, present.
    write_only_pending(&api).await;
}

async fn write_only_pending(api: &Api) {
    let body = api.get_ok("/api/v1/monitoring/metrics?time_window=1").await;
    assert_eq!(body["time_window_hours"], 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_with_time_window_48_include_older_runs(pool: PgPool) {
    let api = seeded(pool).await;
    let body = api
        .get_ok("/api/v1/monitoring/metrics?time_window=48")
        .await;
    assert_eq!(body["time_window_hours"], 48);
    let names: Vec<&str> = body["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| str_of(m, "task_name"))
        .collect();
    assert_eq!(
        names,
        [
            "embed_messages_batch",
            "scheduled_daily_digest",
            "score_message"
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_type_without_finished_runs_has_null_figures(pool: PgPool) {
    let store = store(pool).await;
    write(
        &store,
        &[Run::new("p", "ingest_telegram_messages", at(0), Pending)],
    )
    .await;
    let api = Api::start(store, ApiConfig::default()).await;
    let body = api.get_ok("/api/v1/monitoring/metrics").await;
    let item = &body["metrics"][0];
    assert_eq!(keys(item), sorted(METRIC_KEYS));
    assert!(item["avg_duration_ms"].is_null());
    assert!(item["p99_duration_ms"].is_null());
    assert_eq!(item["success_rate"], 0.0);
}

#[sqlx::test(migrations = "../migrations")]
async fn history_pages_newest_first_with_every_field(pool: PgPool) {
    let api = seeded(pool).await;
    let first = api
        .get_ok("/api/v1/monitoring/history?page=1&page_size=3")
        .await;
    assert_eq!(
        keys(&first),
        sorted(&[
            "total_count",
            "total_is_exact",
            "page",
            "page_size",
            "total_pages",
            "items"
        ])
    );
    assert_eq!(first["total_count"], 8);
    assert_eq!(first["total_is_exact"], true);
    assert_eq!(first["total_pages"], 3);
    assert_eq!(
        (&first["page"], &first["page_size"]),
        (&Value::from(1), &Value::from(3))
    );
    let mut ids = Vec::new();
    let mut created = Vec::new();
    for page in 1..=3 {
        let body = api
            .get_ok(&format!(
                "/api/v1/monitoring/history?page={page}&page_size=3"
            ))
            .await;
        for item in body["items"].as_array().expect("items") {
            assert_eq!(keys(item), sorted(HISTORY_ITEM_KEYS));
            ids.push(str_of(item, "task_id").to_owned());
            created.push(str_of(item, "created_at").to_owned());
        }
    }
    assert_eq!(ids, ["e3", "e2", "e1", "s4", "s3", "s2", "s1", "old"]);
    let mut newest_first = created.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, newest_first);

    let failed = &first["items"][0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_message"], "connection reset by peer");
    assert!(str_of(failed, "error_traceback").starts_with("Traceback"));
    assert_eq!(failed["duration_ms"], 1000);
    assert_eq!(failed["params"]["message_id"], 500);
    assert_eq!(failed["source"], "celery");
    assert_eq!(failed["queue"], "default");
    assert_eq!(failed["queue_wait_ms"], 40);
    let pending = &first["items"][1];
    assert!(pending["started_at"].is_null() && pending["duration_ms"].is_null());
    let beyond = api
        .get_ok("/api/v1/monitoring/history?page=9&page_size=3")
        .await;
    assert_eq!(beyond["items"], Value::Array(vec![]));
}

#[sqlx::test(migrations = "../migrations")]
async fn history_filters_hold_for_every_item(pool: PgPool) {
    let api = seeded(pool).await;
    // The day of a moment before the earliest recent run: its midnight lies
    // after the 30-hour-old run whatever the time of day the test runs at.
    let first_day = (Utc::now() - TimeDelta::minutes(11)).date_naive();
    type Check = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(String, usize, Check)> = vec![
        (
            "task_name=score_message".into(),
            4,
            Box::new(|i| i["task_name"] == "score_message"),
        ),
        (
            "status=failed".into(),
            2,
            Box::new(|i| i["status"] == "failed"),
        ),
        (
            "task_name=score_message&status=success".into(),
            2,
            Box::new(|i| i["task_name"] == "score_message" && i["status"] == "success"),
        ),
        (
            format!("start_date={first_day}"),
            7,
            Box::new(|i| i["task_id"] != "old"),
        ),
        (
            format!(
                "end_date={}",
                (Utc::now() - TimeDelta::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            1,
            Box::new(|i| i["task_id"] == "old"),
        ),
        ("q=rate+limit".into(), 1, Box::new(|i| i["task_id"] == "s3")),
        ("q=e3".into(), 1, Box::new(|i| i["task_id"] == "e3")),
        (
            "status=running&unknown_parameter=1".into(),
            1,
            Box::new(|i| i["task_id"] == "s4"),
        ),
    ];
    for (query, count, matches) in cases {
        let body = api
            .get_ok(&format!("/api/v1/monitoring/history?{query}"))
            .await;
        let items = body["items"].as_array().expect("items");
        assert_eq!(items.len(), count, "{query}: {body}");
        assert_eq!(body["total_count"], count, "{query}");
        for item in items {
            assert!(matches(item), "{query}: {item}");
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_invalid_parameter_is_a_json_400_naming_it(pool: PgPool) {
    let api = seeded(pool).await;
    let cases: &[(&str, &str, &str)] = &[
        (
            "/api/v1/monitoring/history?start_date=invalid",
            "start_date",
            "start_date must be an RFC 3339 time or a YYYY-MM-DD date, got \"invalid\"",
        ),
        (
            "/api/v1/monitoring/history?end_date=2026-02-30",
            "end_date",
            "YYYY-MM-DD",
        ),
        (
            "/api/v1/monitoring/history?status=done",
            "status",
            "one of pending, running, success, failed",
        ),
        ("/api/v1/monitoring/history?page=0", "page", "between 1"),
        ("/api/v1/monitoring/history?page=two", "page", "integer"),
        (
            "/api/v1/monitoring/history?page_size=201",
            "page_size",
            "between 1 and 200",
        ),
        (
            "/api/v1/monitoring/history?page_size=0",
            "page_size",
            "between 1 and 200",
        ),
        (
            "/api/v1/monitoring/history?page_size=-5",
            "page_size",
            "between 1 and 200",
        ),
        (
            "/api/v1/monitoring/history?start_date=2026-11-02&end_date=2026-11-01",
            "start_date",
            "must not be after end_date",
        ),
        (
            "/api/v1/monitoring/metrics?time_window=0",
            "time_window",
            "between 1 and 720",
        ),
        (
            "/api/v1/monitoring/metrics?time_window=721",
            "time_window",
            "between 1 and 720",
        ),
        (
            "/api/v1/monitoring/metrics?time_window=abc",
            "time_window",
            "integer",
        ),
        (
            "/api/v1/monitoring/timeseries?time_window=9999",
            "time_window",
            "between 1 and 720",
        ),
        ("/api/v1/monitoring/tasks/abc", "id", "positive integer"),
        ("/api/v1/monitoring/tasks/0", "id", "positive integer"),
    ];
    for (path, parameter, needle) in cases {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            keys(&body),
            sorted(&["error", "parameter", "message"]),
            "{path}"
        );
        assert_eq!(body["error"], "invalid_parameter", "{path}");
        assert_eq!(body["parameter"], *parameter, "{path}");
        assert!(str_of(&body, "message").contains(needle), "{path}: {body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn free_text_finds_a_run_by_a_params_value(pool: PgPool) {
    use tasklens_store::TaskStore;
    let store = store(pool).await;
    let events: Vec<_> = [
        (
            "digest-1",
            serde_json::json!({"user": "Alice@Example.com", "chat_id": 4242}),
        ),
        (
            "digest-2",
            serde_json::json!({"user": "bob", "chat_id": 77}),
        ),
    ]
    .into_iter()
    .map(|(task_id, params)| {
        let mut event = Run::new(task_id, "send_digest", at(0), Success).event(Pending);
        event.run.params = Some(params);
        event
    })
    .collect();
    store.write_batch(events).await.expect("write");
    let api = Api::start(store, ApiConfig::default()).await;
    let body = api
        .get_ok("/api/v1/monitoring/history?q=alice%40example")
        .await;
    assert_eq!(body["total_count"], 1, "{body}");
    assert_eq!(body["total_is_exact"], true);
    let item = &body["items"][0];
    assert_eq!(item["task_id"], "digest-1");
    assert_eq!(item["params"]["user"], "Alice@Example.com");
    let none = api.get_ok("/api/v1/monitoring/history?q=carol").await;
    assert_eq!(none["total_count"], 0, "{none}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_in_full_with_its_other_attempts_and_404(pool: PgPool) {
    let store = store(pool).await;
    write(
        &store,
        &[
            Run::new("retry-me", "score_message", at(0), Failed).attempt(0),
            Run::new("retry-me", "score_message", at(1), Failed).attempt(1),
            Run::new("retry-me", "score_message", at(2), Success).attempt(2),
        ],
    )
    .await;
    let api = Api::start(store, ApiConfig::default()).await;
    let list = api.get_ok("/api/v1/monitoring/history?q=retry-me").await;
    let latest = &list["items"][0];
    assert_eq!(latest["attempt"], 2);
    let id = latest["id"].as_i64().expect("id");
    let detail = api.get_ok(&format!("/api/v1/monitoring/tasks/{id}")).await;
    assert_eq!(
        keys(&detail),
        sorted(&[
            "id",
            "task_id",
            "task_name",
            "status",
            "attempt",
            "source",
            "params",
            "created_at",
            "updated_at",
            "enqueued_at",
            "started_at",
            "completed_at",
            "duration_ms",
            "queue_wait_ms",
            "error_message",
            "error_type",
            "error_traceback",
            "trace_id",
            "span_id",
            "queue",
            "service_name",
            "worker_host",
            "environment",
            "other_attempts",
        ])
    );
    assert_eq!(detail["id"], id);
    assert_eq!(detail["status"], "success");
    assert_eq!(detail["trace_id"], "ab".repeat(16));
    assert_eq!(detail["span_id"], "0c".repeat(8));
    assert_eq!(detail["worker_host"], "worker-1");
    assert_eq!(detail["service_name"], "workers");
    assert_eq!(detail["queue_wait_ms"], 40);
    assert!(detail["error_message"].is_null());
    let others = detail["other_attempts"].as_array().expect("attempts");
    assert_eq!(others.len(), 2);
    for (other, attempt) in others.iter().zip([0, 1]) {
        assert_eq!(
            keys(other),
            sorted(&[
                "id",
                "attempt",
                "status",
                "created_at",
                "started_at",
                "completed_at",
                "duration_ms",
                "error_message"
            ])
        );
        assert_eq!(other["attempt"], attempt);
        assert_eq!(other["status"], "failed");
        assert_eq!(other["error_message"], "OpenAI API rate limit exceeded");
    }
    let first_id = others[0]["id"].as_i64().expect("id");
    let first = api
        .get_ok(&format!("/api/v1/monitoring/tasks/{first_id}"))
        .await;
    assert_eq!(first["error_type"], "RateLimitError");
    assert_eq!(first["other_attempts"].as_array().map(Vec::len), Some(2));

    let (status, body) = api.get("/api/v1/monitoring/tasks/999999").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("999999"))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn timeseries_bucket_size_follows_the_window(pool: PgPool) {
    let api = seeded(pool).await;
    let cases = [(1, "minute", 60), (24, "hour", 3600), (720, "day", 86400)];
    for (window, granularity, seconds) in cases {
        let body = api
            .get_ok(&format!(
                "/api/v1/monitoring/timeseries?time_window={window}"
            ))
            .await;
        assert_eq!(
            keys(&body),
            sorted(&["granularity", "bucket_seconds", "start", "end", "points"])
        );
        assert_eq!(body["granularity"], granularity);
        assert_eq!(body["bucket_seconds"], seconds);
        let points = body["points"].as_array().expect("points");
        let mut order: Vec<(String, String)> = points
            .iter()
            .map(|p| {
                (
                    str_of(p, "bucket").to_owned(),
                    str_of(p, "task_name").to_owned(),
                )
            })
            .collect();
        let before = order.clone();
        order.sort();
        assert_eq!(before, order, "sorted by bucket then task name");
        let total = |name: &str, status: &str| -> i64 {
            points
                .iter()
                .filter(|p| p["task_name"] == name)
                .map(|p| p[status].as_i64().expect("count"))
                .sum()
        };
        assert_eq!(total("score_message", "success"), 2, "{window}");
        assert_eq!(total("score_message", "failed"), 1, "{window}");
        assert_eq!(total("embed_messages_batch", "pending"), 1, "{window}");
        for point in points {
            assert_eq!(
                keys(point),
                sorted(&[
                    "bucket",
                    "task_name",
                    "service",
                    "environment",
                    "pending",
                    "running",
                    "success",
                    "failed",
                    "p50_duration_ms",
                    "p95_duration_ms"
                ])
            );
        }
        assert_eq!(
            total("scheduled_daily_digest", "success"),
            i64::from(window == 720),
            "{window}"
        );
    }
    let filtered = api
        .get_ok("/api/v1/monitoring/timeseries?task_name=embed_messages_batch")
        .await;
    let points = filtered["points"].as_array().expect("points");
    assert!(
        !points.is_empty(),
        "the filtered type has points: {filtered}"
    );
    assert!(
        points
            .iter()
            .all(|p| p["task_name"] == "embed_messages_batch"),
        "{filtered}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn task_names_are_sorted(pool: PgPool) {
    let api = seeded(pool).await;
    let body = api.get_ok("/api/v1/monitoring/task-names").await;
    assert_eq!(
        body["task_names"],
        serde_json::json!([
            "embed_messages_batch",
            "scheduled_daily_digest",
            "score_message"
        ])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn probes_metrics_openapi_and_unknown_api_paths(pool: PgPool) {
    let api = seeded(pool).await;
    let health = api
        .http
        .get(api.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = api
        .http
        .get(api.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    api.get_ok("/api/v1/monitoring/task-names").await;
    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tasklens_api_requests_total")
            && metrics.contains("route=\"/api/v1/monitoring/task-names\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("tasklens_api_request_duration_seconds"),
        "{metrics}"
    );
    let served = api.get_ok("/api/openapi.json").await;
    let generated: Value =
        serde_json::from_str(&tasklens_dashboard_api::openapi::document_json()).expect("json");
    assert_eq!(served, generated);
    let (status, body) = api.get("/api/v1/monitoring/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}

#[sqlx::test(migrations = "../migrations")]
async fn readiness_fails_when_the_database_is_gone(pool: PgPool) {
    let store = store(pool.clone()).await;
    let api = Api::start(store, ApiConfig::default()).await;
    pool.close().await;
    let ready = api
        .http
        .get(api.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    let (status, body) = api.get("/api/v1/monitoring/task-names").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    let health = api
        .http
        .get(api.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200, "the process is up");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_token_guards_rest_but_not_probes(pool: PgPool) {
    let store = store(pool).await;
    let config = ApiConfig {
        token: Some("s3cret".into()),
        ..ApiConfig::default()
    };
    let api = Api::start(store, config).await;
    for path in [
        "/api/v1/monitoring/metrics",
        "/api/v1/monitoring/history",
        "/api/v1/monitoring/task-names",
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"], "unauthorized");
        let wrong = api
            .http
            .get(api.url(path))
            .bearer_auth("s3cre")
            .send()
            .await
            .expect("request");
        assert_eq!(wrong.status(), 401, "{path}");
        let right = api
            .http
            .get(api.url(path))
            .bearer_auth("s3cret")
            .send()
            .await
            .expect("request");
        assert_eq!(right.status(), 200, "{path}");
        // The query-string token is for the WebSocket only.
        let (status, _) = api.get(&format!("{path}?token=s3cret")).await;
        assert_eq!(status, 401, "{path}");
    }
    for path in ["/healthz", "/readyz", "/"] {
        let response = api.http.get(api.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn cors_is_closed_unless_origins_are_given(pool: PgPool) {
    let store = store(pool).await;
    let preflight = |api: &Api| {
        api.http
            .request(
                reqwest::Method::OPTIONS,
                api.url("/api/v1/monitoring/metrics"),
            )
            .header("Origin", "https://dash.example.com")
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let closed = Api::start(store.clone(), ApiConfig::default()).await;
    let response = preflight(&closed).await.expect("preflight");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let open = Api::start(
        store,
        ApiConfig {
            cors_origins: vec!["https://dash.example.com".into()],
            ..ApiConfig::default()
        },
    )
    .await;
    let response = preflight(&open).await.expect("preflight");
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"https://dash.example.com"[..])
    );
    let other = open
        .http
        .get(open.url("/api/v1/monitoring/metrics"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .expect("request");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_page_is_served_with_a_spa_fallback(pool: PgPool) {
    let store = store(pool).await;
    let dir = std::env::temp_dir().join(format!("tasklens-ui-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).expect("dir");
    std::fs::write(dir.join("index.html"), "<html>tasklens page</html>").expect("index");
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").expect("asset");
    let api = Api::start(
        store.clone(),
        ApiConfig {
            ui_dir: Some(dir.clone()),
            token: Some("s3cret".into()),
            ..ApiConfig::default()
        },
    )
    .await;
    let text = |path: &'static str| {
        let request = api.http.get(api.url(path)).send();
        async move {
            let response = request.await.expect("request");
            (
                response.status().as_u16(),
                response.text().await.expect("text"),
            )
        }
    };
    assert_eq!(text("/").await, (200, "<html>tasklens page</html>".into()));
    assert_eq!(
        text("/monitoring").await,
        (200, "<html>tasklens page</html>".into())
    );
    assert_eq!(
        text("/monitoring/runs/42").await,
        (200, "<html>tasklens page</html>".into())
    );
    assert_eq!(text("/assets/app.js").await, (200, "console.log(1)".into()));
    let (status, body) = api.get("/api/v1/unknown").await;
    assert_eq!((status, &body["error"]), (404, &Value::from("not_found")));
    let _ = std::fs::remove_dir_all(&dir);

    let unbuilt = Api::start(store, ApiConfig::default()).await;
    let response = unbuilt
        .http
        .get(unbuilt.url("/"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("text");
    assert!(body.contains("npm --prefix ui run build"), "{body}");
}

fn total_of(body: &Value, task_name: &str) -> i64 {
    body["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["task_name"] == task_name)
        .and_then(|m| m["total_executions"].as_i64())
        .unwrap_or(0)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_shared_read_answer_is_never_older_than_its_max_age(pool: PgPool) {
    let store = store(pool).await;
    write(&store, &seed()).await;
    let max_age = std::time::Duration::from_millis(300);
    let api = Api::start(
        store.clone(),
        ApiConfig {
            read_cache_max_age: max_age,
            ..ApiConfig::default()
        },
    )
    .await;
    let path = "/api/v1/monitoring/metrics";
    let first = api.get_ok(path).await;
    assert_eq!(total_of(&first, "score_message"), 4);
    write(
        &store,
        &[Run::new("s5", "score_message", at(8), Success).duration(10)],
    )
    .await;
    // Shared or asked again, an answer is consistent with its own `generated_at`.
    let second = api.get_ok(path).await;
    let expected = if second["generated_at"] == first["generated_at"] {
        4
    } else {
        5
    };
    assert_eq!(total_of(&second, "score_message"), expected, "{second}");
    // Time passing is what is tested here, not an event to wait for: once max age is over,
    // no cached answer may be served.
    tokio::time::sleep(max_age + std::time::Duration::from_millis(50)).await;
    let third = api.get_ok(path).await;
    assert_ne!(third["generated_at"], first["generated_at"]);
    assert_eq!(
        total_of(&third, "score_message"),
        5,
        "past max age: {third}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn with_the_read_cache_off_every_request_sees_the_latest_commit(pool: PgPool) {
    let store = store(pool).await;
    write(&store, &seed()).await;
    let api = Api::start(
        store.clone(),
        ApiConfig {
            read_cache_max_age: std::time::Duration::ZERO,
            ..ApiConfig::default()
        },
    )
    .await;
    let history = "/api/v1/monitoring/history?task_name=score_message";
    assert_eq!(api.get_ok(history).await["total_count"], 4);
    write(
        &store,
        &[Run::new("s5", "score_message", at(8), Success).duration(10)],
    )
    .await;
    assert_eq!(api.get_ok(history).await["total_count"], 5);
    assert_eq!(
        total_of(
            &api.get_ok("/api/v1/monitoring/metrics").await,
            "score_message"
        ),
        5
    );
}
