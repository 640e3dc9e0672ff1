//! The OpenAPI document says what the API accepts and answers, and the API keeps to it: the
//! limits in the document are the ones `params` enforces, every error an endpoint can give is
//! documented, and the requests schemathesis (scripts/schemathesis.sh) found answered against
//! the document stay answered as the document says.

mod common;

use common::{Api, Run, store, write};
use serde_json::Value;
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_dashboard_api::params::{MAX_TEXT_CHARS, MAX_WINDOW_HOURS};
use tasklens_model::TaskStatus;
use tasklens_store::HistoryQuery;

fn document() -> Value {
    serde_json::from_str(&tasklens_dashboard_api::openapi::document_json()).expect("json")
}

fn operation<'a>(doc: &'a Value, path: &str) -> &'a Value {
    let operation = &doc["paths"][path]["get"];
    assert!(operation.is_object(), "{path} missing");
    operation
}

fn parameter<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    operation(doc, path)["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path}: no parameter {name}"))
}

const HISTORY: &str = "/api/v1/monitoring/history";
const METRICS: &str = "/api/v1/monitoring/metrics";
const TIMESERIES: &str = "/api/v1/monitoring/timeseries";
const TASK: &str = "/api/v1/monitoring/tasks/{id}";
const TASK_NAMES: &str = "/api/v1/monitoring/task-names";
const WS: &str = "/api/v1/monitoring/ws";

#[test]
fn the_documented_limits_are_the_enforced_ones() {
    let doc = document();
    let schema = |path, name| parameter(&doc, path, name)["schema"].clone();
    for path in [METRICS, TIMESERIES] {
        assert_eq!(schema(path, "time_window")["minimum"], 1);
        assert_eq!(schema(path, "time_window")["maximum"], MAX_WINDOW_HOURS);
    }
    assert_eq!(schema(HISTORY, "page")["minimum"], 1);
    assert_eq!(schema(HISTORY, "page")["maximum"], u32::MAX / 2);
    assert_eq!(schema(HISTORY, "page_size")["minimum"], 1);
    assert_eq!(
        schema(HISTORY, "page_size")["maximum"],
        HistoryQuery::MAX_PAGE_SIZE
    );
    // Every free-text query parameter of every operation, the ones added later included.
    let mut text_parameters = 0;
    for (path, method, op) in operations(&doc) {
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            let schema = &parameter["schema"];
            if parameter["in"] != "query"
                || schema["type"] != "string"
                || schema.get("format").is_some()
            {
                continue;
            }
            text_parameters += 1;
            let name = &parameter["name"];
            assert_eq!(
                schema["maxLength"], MAX_TEXT_CHARS,
                "{method} {path} {name}"
            );
            assert_eq!(schema["pattern"], "^[^\\x00]*$", "{method} {path} {name}");
        }
    }
    assert!(
        text_parameters >= 5,
        "task_name and q of the endpoints: {text_parameters}"
    );
    assert_eq!(
        schema(HISTORY, "status")["$ref"],
        "#/components/schemas/RunStatus"
    );
    assert_eq!(schema(TASK, "id")["minimum"], 1);
    assert_eq!(schema(TASK, "id")["format"], "int64");
}

#[test]
fn dates_are_a_date_or_a_date_time_and_nothing_else() {
    let doc = document();
    for name in ["start_date", "end_date"] {
        assert_eq!(
            parameter(&doc, HISTORY, name)["schema"]["$ref"],
            "#/components/schemas/DateOrTime"
        );
    }
    let formats: Vec<&str> = doc["components"]["schemas"]["DateOrTime"]["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|branch| {
            assert_eq!(branch["type"], "string");
            branch["format"].as_str().expect("format")
        })
        .collect();
    assert_eq!(formats, ["date", "date-time"]);
}

/// `time_window=` counts as absent: `allowEmptyValue` on every optional query parameter.
#[test]
fn every_optional_query_parameter_may_be_empty() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for parameter in item["get"]["parameters"].as_array().into_iter().flatten() {
            let optional_query = parameter["in"] == "query" && parameter["required"] == false;
            assert_eq!(
                parameter.get("allowEmptyValue") == Some(&Value::Bool(true)),
                optional_query,
                "{path} {}",
                parameter["name"]
            );
        }
    }
}

/// Every operation of the document: path, method and the operation object.
fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                all.push((path.as_str(), method, op));
            }
        }
    }
    assert!(all.len() > 5, "the walk found the operations");
    all
}

#[test]
fn every_error_an_endpoint_can_give_is_documented() {
    let doc = document();
    let statuses = |path| -> Vec<String> {
        let mut statuses: Vec<String> = operation(&doc, path)["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .cloned()
            .collect();
        statuses.sort();
        statuses
    };
    // 400: a parameter; 401: a token is configured and missing; 503: the database.
    for path in [HISTORY, METRICS, TIMESERIES, TASK_NAMES] {
        assert_eq!(statuses(path), ["200", "400", "401", "503"], "{path}");
    }
    assert_eq!(statuses(TASK), ["200", "400", "401", "404", "503"]);
    // The WebSocket touches no database before the upgrade.
    assert_eq!(statuses(WS), ["101", "400", "401"]);
    for (path, method, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

/// A GET without the handshake headers is a schema-violating request, so its 400 is expected.
#[test]
fn the_websocket_handshake_headers_are_required() {
    let doc = document();
    for name in [
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Key",
    ] {
        let header = parameter(&doc, WS, name);
        assert_eq!(header["in"], "header", "{name}");
        assert_eq!(header["required"], true, "{name}");
    }
}

/// The committed document is the default's, no token: every path lets the token be absent. An
/// API with a token serves the same document, except that the token is required everywhere.
#[test]
fn with_a_token_configured_every_path_requires_it() {
    let default = document();
    let with_token =
        serde_json::to_value(tasklens_dashboard_api::openapi::document_with_token()).expect("json");
    for (path, method, op) in operations(&default) {
        let security = |doc: &Value| doc["paths"][path][method]["security"].clone();
        let mut expected = security(&default);
        let alternatives = expected.as_array_mut().expect("security");
        assert_eq!(alternatives[0], serde_json::json!({}), "{method} {path}");
        alternatives.remove(0);
        assert!(!alternatives.is_empty(), "{method} {path}");
        assert_eq!(security(&with_token), expected, "{method} {path}");
        assert_eq!(
            with_token["paths"][path][method]["responses"], op["responses"],
            "{method} {path}"
        );
    }
    assert_eq!(
        with_token["paths"][WS]["get"]["security"],
        serde_json::json!([{"bearer": []}, {"query_token": []}])
    );
}

async fn api(pool: PgPool, config: ApiConfig) -> Api {
    let store = store(pool).await;
    let now = chrono::Utc::now() - chrono::TimeDelta::minutes(5);
    write(
        &store,
        &[Run::new("s1", "score_message", now, TaskStatus::Failed)],
    )
    .await;
    Api::start(store, config).await
}

fn refused(status: u16, body: &Value, parameter: &str, needle: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_parameter", "{body}");
    assert_eq!(body["parameter"], parameter, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(needle), "{message}");
}

/// Found by schemathesis: a NUL in a text filter reached PostgreSQL, which refuses it in text,
/// and the API answered 500.
#[sqlx::test(migrations = "../migrations")]
async fn a_nul_in_a_text_filter_is_a_400_naming_it(pool: PgPool) {
    let api = api(pool, ApiConfig::default()).await;
    for (path, parameter) in [
        ("/api/v1/monitoring/history?task_name=score%00", "task_name"),
        ("/api/v1/monitoring/history?q=rate%00limit", "q"),
        ("/api/v1/monitoring/timeseries?task_name=%00", "task_name"),
    ] {
        let (status, body) = api.get(path).await;
        refused(status, &body, parameter, "NUL");
    }
}

/// Values are taken as the document says: empty is absent, a date is a date or an RFC 3339
/// time, numbers and enums are not trimmed, free text is.
#[sqlx::test(migrations = "../migrations")]
async fn values_are_taken_exactly_as_documented(pool: PgPool) {
    let api = api(pool, ApiConfig::default()).await;
    for path in [
        "/api/v1/monitoring/metrics?time_window=",
        "/api/v1/monitoring/history?status=&page=&page_size=&start_date=&end_date=&q=",
        "/api/v1/monitoring/history?start_date=2026-11-28t10:30:00.5z",
        "/api/v1/monitoring/history?end_date=9999-12-31",
    ] {
        api.get_ok(path).await;
    }
    let trimmed = api
        .get_ok("/api/v1/monitoring/history?task_name=%20score_message%20&q=%20rate%20")
        .await;
    assert_eq!(trimmed["total_count"], 1, "{trimmed}");
    let cases = [
        ("history?end_date=%C3%83%C2%A2", "end_date", "RFC 3339"),
        ("history?start_date=2026-1-1", "start_date", "RFC 3339"),
        (
            "history?start_date=2026-11-28%2010:30:00Z",
            "start_date",
            "RFC 3339",
        ),
        ("history?status=failed%20", "status", "one of"),
        ("history?page_size=%2010", "page_size", "integer"),
        ("metrics?time_window=%205", "time_window", "integer"),
    ];
    for (path, parameter, needle) in cases {
        let (status, body) = api.get(&format!("/api/v1/monitoring/{path}")).await;
        refused(status, &body, parameter, needle);
    }
}

/// What axum answers a GET of the WebSocket path that is no upgrade, as the document says: 400
/// with the error body naming the missing header; 401 first when a token is configured.
#[sqlx::test(migrations = "../migrations")]
async fn a_websocket_request_without_an_upgrade_is_a_json_400(pool: PgPool) {
    let config = ApiConfig {
        token: Some("secret".into()),
        ..ApiConfig::default()
    };
    let api = api(pool, config).await;
    let served = api.get_ok("/api/openapi.json").await;
    assert_eq!(
        served["paths"][HISTORY]["get"]["security"],
        serde_json::json!([{"bearer": []}])
    );
    let (status, body) = api.get(WS).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let response = api
        .http
        .get(api.url(WS))
        .bearer_auth("secret")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "bad_request", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Connection")),
        "{body}"
    );
}
