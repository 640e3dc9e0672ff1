//! `GET /api/v1/monitoring/stuck` over a real database: the runs past their thresholds, oldest
//! first, with where each threshold came from.

mod common;

use chrono::{TimeDelta, Utc};
use common::{Api, Run, keys, sorted, store, write};
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::StuckThresholds;
use tasklens_model::TaskStatus::{Pending, Running, Success};

#[sqlx::test(migrations = "../migrations")]
async fn stuck_runs_are_listed_oldest_first_with_their_thresholds(pool: PgPool) {
    let store = store(pool).await;
    let ago = |minutes: i64| Utc::now() - TimeDelta::minutes(minutes);
    write(
        &store,
        &[
            Run::new("old-running", "score_message", ago(40), Running),
            Run::new("young-running", "score_message", ago(2), Running),
            Run::new("digest", "scheduled_daily_digest", ago(20), Running),
            Run::new("waiting", "embed_messages_batch", ago(9), Pending),
            Run::new(
                "waiting-too",
                "embed_messages_batch",
                ago(8) - TimeDelta::seconds(30),
                Pending,
            ),
            Run::new("finished", "score_message", ago(50), Success),
        ],
    )
    .await;
    let api = Api::start(
        store,
        ApiConfig {
            stuck_thresholds: StuckThresholds::new(vec![
                "scheduled_*=30m".parse().expect("rule"),
                "embed_*=8m".parse().expect("rule"),
            ]),
            ..ApiConfig::default()
        },
    )
    .await;

    let body = api.get_ok("/api/v1/monitoring/stuck").await;
    assert_eq!(
        keys(&body),
        sorted(&["generated_at", "total", "by_task", "runs"])
    );
    assert_eq!(body["total"], 3);
    assert_eq!(
        body["by_task"],
        serde_json::json!([
            // pending runs no worker reported yet, of a name with no typed task type
            {"task_name": "embed_messages_batch", "service": null, "environment": null, "count": 2},
            {"task_name": "score_message", "service": "workers", "environment": null, "count": 1},
        ])
    );
    let runs = body["runs"].as_array().expect("runs");
    let seen: Vec<(&str, &str, &str, i64)> = runs
        .iter()
        .map(|r| {
            (
                r["task_id"].as_str().expect("task_id"),
                r["status"].as_str().expect("status"),
                r["threshold_source"].as_str().expect("source"),
                r["threshold_ms"].as_i64().expect("threshold"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("old-running", "running", "floor", 300_000),
            ("waiting", "pending", "configured", 480_000),
            ("waiting-too", "pending", "configured", 480_000),
        ]
    );
    assert_eq!(
        keys(&runs[0]),
        sorted(&[
            "id",
            "task_name",
            "service",
            "environment",
            "task_id",
            "attempt",
            "source",
            "status",
            "since",
            "age_ms",
            "threshold_ms",
            "threshold_source",
        ])
    );
    assert!(runs[0]["age_ms"].as_i64().expect("age") >= 39 * 60_000);

    let one = api
        .get_ok("/api/v1/monitoring/stuck?task_name=embed_messages_batch")
        .await;
    assert_eq!(one["runs"].as_array().expect("runs").len(), 2);
    assert_eq!(one["runs"][0]["task_id"], "waiting");

    // The list stops at `limit`, oldest first; the counts still cover every stuck run.
    let first = api.get_ok("/api/v1/monitoring/stuck?limit=1").await;
    assert_eq!(first["total"], 3);
    assert_eq!(first["by_task"], body["by_task"]);
    let listed: Vec<&str> = first["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["task_id"].as_str().expect("task_id"))
        .collect();
    assert_eq!(listed, ["old-running"]);
    for bad in ["0", "1001", "many"] {
        let (status, error) = api
            .get(&format!("/api/v1/monitoring/stuck?limit={bad}"))
            .await;
        assert_eq!(status, 400, "limit={bad}: {error}");
        assert_eq!(error["parameter"], "limit");
    }

    let (status, error) = api
        .get(&format!(
            "/api/v1/monitoring/stuck?task_name={}",
            "x".repeat(501)
        ))
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["parameter"], "task_name");
}
