//! The live feed across a lost database connection, with a real client: the API's store reaches
//! PostgreSQL through a proxy the test cuts. Clients are told to resync (`missed_events`) when
//! the listener loses its connection, and once the database is back the hub listens again, so a
//! run written afterwards (directly, as a collector elsewhere would) still reaches them.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::TaskStatus::{Pending, Success};
use tasklens_store::TaskStore;

use common::ws::{self, WAIT, next_change, next_json, subscribe};
use common::{Api, Run, store};
use tasklens_test_support::DbProxy;

/// Writes a new pending run directly to the database (not through the proxy).
async fn write_pending(direct: &dyn TaskStore, task_id: &str) {
    let run = Run::new(task_id, "score_message", chrono::Utc::now(), Success);
    let outcome = direct
        .write_batch(vec![run.event(Pending)])
        .await
        .expect("write");
    assert_eq!(outcome.changed.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lost_listener_connection_makes_clients_resync_and_the_hub_listens_again(pool: PgPool) {
    let direct = store(pool.clone()).await;
    let proxy = DbProxy::to_server_of(&pool).await;
    let api = Api::start(Arc::new(proxy.store(&pool).await), ApiConfig::default()).await;
    let mut client = ws::connect(&api.ws_url(""), None).await.expect("connect");
    subscribe(&mut client, Value::Null, Value::Null).await;

    write_pending(direct.as_ref(), "before-cut").await;
    let message = next_change(&mut client).await;
    assert_eq!(message["data"]["task_id"], "before-cut");

    // The API's connections drop and the database refuses new ones.
    proxy.cut();
    let message = next_json(&mut client).await;
    assert_eq!(message["type"], "resync", "{message}");
    assert_eq!(message["data"], json!({"reason": "missed_events"}));

    // Back: the hub subscribes again (after its backoff), so runs written from now on arrive.
    // A run written before it has listened again is missed (and announced by a resync), so
    // keep writing new runs until one arrives; the first to arrive must be one of them.
    proxy.restore();
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    let mut written = Vec::new();
    'arrived: loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no run written after the restore reached the client: {written:?}"
        );
        let task_id = format!("after-restore-{}", written.len());
        write_pending(direct.as_ref(), &task_id).await;
        written.push(task_id);
        // Read what came meanwhile, waiting a little for this run before writing another.
        while let Ok(message) = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            next_json(&mut client),
        )
        .await
        {
            match message["type"].as_str() {
                Some("resync") => {
                    assert_eq!(message["data"], json!({"reason": "missed_events"}));
                }
                Some("task_status_changed") => {
                    let task_id = message["data"]["task_id"].as_str().expect("task_id");
                    assert!(
                        written.iter().any(|w| w == task_id),
                        "{message} is none of {written:?}"
                    );
                    break 'arrived;
                }
                _ => panic!("unexpected {message}"),
            }
        }
    }

    // And the feed goes on as before.
    write_pending(direct.as_ref(), "later").await;
    loop {
        let message = next_change(&mut client).await;
        if message["data"]["task_id"] == "later" {
            break;
        }
    }
}
