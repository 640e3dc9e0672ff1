//! The error groups over a real database: `GET /api/v1/monitoring/errors` (groups seen in a
//! window, counts and buckets from the group rollups), `GET /api/v1/monitoring/errors/{id}`,
//! `POST /api/v1/monitoring/errors/{id}/state` and the history's `error_group` filter.

mod common;

use chrono::{TimeDelta, Utc};
use common::{Api, Run, keys, sorted, store, write};
use serde_json::Value;
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::TaskStatus::{Failed, Success};

async fn post(api: &Api, path: &str, body: &str) -> (u16, Value) {
    let response = api
        .http
        .post(api.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (
        status,
        response.json::<Value>().await.unwrap_or(Value::Null),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn error_groups_are_listed_read_and_resolved(pool: PgPool) {
    let store = store(pool).await;
    let ago = |minutes: i64| Utc::now() - TimeDelta::minutes(minutes);
    write(
        &store,
        &[
            Run::new("a", "score_message", ago(50), Failed).error("rate limited"),
            Run::new("b", "score_message", ago(40), Failed).error("rate limited"),
            Run::new("c", "embed_atoms_batch", ago(30), Failed).error("out of memory"),
            Run::new("ok", "score_message", ago(20), Success),
        ],
    )
    .await;
    let api = Api::start(store, ApiConfig::default()).await;

    let body = api.get_ok("/api/v1/monitoring/errors?time_window=6").await;
    assert_eq!(
        keys(&body),
        sorted(&["time_window_hours", "generated_at", "groups"])
    );
    assert_eq!(body["time_window_hours"], 6);
    let groups = body["groups"].as_array().expect("groups");
    let seen: Vec<(&str, i64, i64, bool)> = groups
        .iter()
        .map(|g| {
            (
                g["task_name"].as_str().expect("task_name"),
                g["count"].as_i64().expect("count"),
                g["total"].as_i64().expect("total"),
                g["is_new"].as_bool().expect("is_new"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("embed_atoms_batch", 1, 1, true),
            ("score_message", 2, 2, true)
        ],
        "most recently seen first"
    );
    let score = &groups[1];
    assert_eq!(
        keys(score),
        sorted(&[
            "id",
            "task_name",
            "service",
            "environment",
            "error_type",
            "message",
            "count",
            "total",
            "first_seen",
            "last_seen",
            "is_new",
            "state",
            "regression",
            "buckets",
        ])
    );
    let buckets = score["buckets"].as_array().expect("buckets");
    assert!((7..=8).contains(&buckets.len()), "hourly: {buckets:?}");
    let sum: i64 = buckets
        .iter()
        .map(|b| b["count"].as_i64().expect("n"))
        .sum();
    assert_eq!(sum, 2);
    assert_eq!(keys(&buckets[0]), sorted(&["bucket", "count"]));
    let week = api
        .get_ok("/api/v1/monitoring/errors?time_window=168")
        .await;
    assert_eq!(
        week["groups"][0]["buckets"]
            .as_array()
            .expect("daily")
            .len(),
        8
    );
    let only = api
        .get_ok("/api/v1/monitoring/errors?task_name=embed_atoms_batch")
        .await;
    assert_eq!(only["groups"].as_array().expect("groups").len(), 1);

    let id = score["id"].as_i64().expect("id");
    let detail = api.get_ok(&format!("/api/v1/monitoring/errors/{id}")).await;
    assert!(detail["traceback"].as_str().is_some_and(|t| !t.is_empty()));
    let runs: Vec<&str> = detail["latest_runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["task_id"].as_str().expect("task_id"))
        .collect();
    assert_eq!(runs, ["b", "a"], "newest first");

    let history = api
        .get_ok(&format!("/api/v1/monitoring/history?error_group={id}"))
        .await;
    assert_eq!(history["total_count"], 2);
    let (status, bad) = api.get("/api/v1/monitoring/history?error_group=x").await;
    assert_eq!(
        (status, bad["parameter"].as_str()),
        (400, Some("error_group"))
    );

    let state_path = format!("/api/v1/monitoring/errors/{id}/state");
    let (status, resolved) = post(&api, &state_path, r#"{"state": "resolved"}"#).await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["state"], "resolved");
    let listed = api.get_ok("/api/v1/monitoring/errors").await;
    assert_eq!(listed["groups"][1]["state"], "resolved");
    let (status, ignored) = post(&api, &state_path, r#"{"state": "ignored"}"#).await;
    assert_eq!((status, ignored["state"].as_str()), (200, Some("ignored")));
    let (status, open) = post(&api, &state_path, r#"{"state": "open"}"#).await;
    assert_eq!((status, open["state"].as_str()), (200, Some("open")));

    for body in [r#"{"state": "closed"}"#, "{}", "not json"] {
        let (status, answer) = post(&api, &state_path, body).await;
        assert_eq!(
            (status, answer["parameter"].as_str()),
            (400, Some("state")),
            "{body}: {answer}"
        );
    }
    let (status, _) = post(
        &api,
        "/api/v1/monitoring/errors/999999/state",
        r#"{"state": "open"}"#,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api.get("/api/v1/monitoring/errors/999999").await;
    assert_eq!(status, 404);
    let (status, answer) = api.get("/api/v1/monitoring/errors/nope").await;
    assert_eq!((status, answer["parameter"].as_str()), (400, Some("id")));
    let (status, answer) = api.get("/api/v1/monitoring/errors?time_window=0").await;
    assert_eq!(
        (status, answer["parameter"].as_str()),
        (400, Some("time_window"))
    );
}
