//! The live feed with a real client over a real socket: events written through `write_batch`
//! (the collector's path) arrive in the contract's shape; filters, token and shutdown hold.

mod common;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::TaskStatus::{Failed, Pending, Running, Success};
use tasklens_store::TaskStore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use common::ws::{self, WAIT, next_change, next_json, subscribe};
use common::{Api, Run, keys, sorted, store, write};

const DATA_KEYS: &[&str] = &[
    "service_name",
    "environment",
    "id",
    "task_id",
    "previous_status",
    "source",
    "attempt",
    "created_at",
    "started_at",
    "completed_at",
    "duration_ms",
    "queue_wait_ms",
    "error_message",
];

#[sqlx::test(migrations = "../migrations")]
async fn a_status_change_arrives_in_the_contract_shape(pool: PgPool) {
    let store = store(pool).await;
    let api = Api::start(
        store.clone(),
        ApiConfig {
            token: Some("s3cret".into()),
            ..ApiConfig::default()
        },
    )
    .await;

    // The token: refused without it or with a wrong one; accepted as a header or a query value.
    match ws::connect(&api.ws_url(""), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    assert!(
        ws::connect(&api.ws_url("?token=wrong"), None)
            .await
            .is_err()
    );
    let mut by_query = ws::connect(&api.ws_url("?token=s3cret"), None)
        .await
        .expect("token as query parameter");
    let mut by_header = ws::connect(&api.ws_url(""), Some("s3cret"))
        .await
        .expect("token as header");

    let run = Run::new("live-1", "score_message", chrono::Utc::now(), Failed);
    let outcome = store
        .write_batch(vec![run.event(Pending)])
        .await
        .expect("write");
    assert_eq!(outcome.changed.len(), 1);
    for client in [&mut by_query, &mut by_header] {
        let message = next_change(client).await;
        assert_eq!(
            keys(&message),
            sorted(&["type", "task_name", "status", "timestamp", "data"])
        );
        assert_eq!(keys(&message["data"]), sorted(DATA_KEYS));
        assert_eq!(message["status"], "pending");
        assert_eq!(message["task_name"], "score_message");
        assert!(message["data"]["previous_status"].is_null(), "a new run");
        assert_eq!(message["data"]["task_id"], "live-1");
        assert_eq!(message["data"]["source"], "celery");
    }

    // Running and failed in one batch: one change, from pending to failed.
    store
        .write_batch(vec![run.event(Running), run.event(Failed)])
        .await
        .expect("write");
    let message = next_change(&mut by_query).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["data"]["previous_status"], "pending");
    assert_eq!(message["data"]["duration_ms"], 1000);
    assert_eq!(message["data"]["queue_wait_ms"], 40);
    assert_eq!(
        message["data"]["error_message"],
        "OpenAI API rate limit exceeded"
    );
    let id = message["data"]["id"].as_i64().expect("id");
    let detail: Value = api
        .http
        .get(api.url(&format!("/api/v1/monitoring/tasks/{id}")))
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("detail")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["task_id"], "live-1");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(message["timestamp"].as_str().expect("ts")).ok(),
        chrono::DateTime::parse_from_rfc3339(detail["updated_at"].as_str().expect("ts")).ok(),
        "timestamp is when the change was committed"
    );
    assert_eq!(next_change(&mut by_header).await, message);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_filter_holds_and_only_status_changes_are_sent(pool: PgPool) {
    let store = store(pool).await;
    let api = Api::start(store.clone(), ApiConfig::default()).await;
    let mut failures = ws::connect(&api.ws_url(""), None).await.expect("connect");
    let ack = subscribe(&mut failures, json!(["score_message"]), json!(["failed"])).await;
    assert_eq!(
        ack["data"],
        json!({"task_names": ["score_message"], "statuses": ["failed"], "services": null,
               "environments": null})
    );
    let mut everything = ws::connect(&api.ws_url(""), None).await.expect("connect");
    subscribe(&mut everything, Value::Null, Value::Null).await;

    let now = chrono::Utc::now();
    // Filtered out (wrong status, then wrong task), then admitted: the first message the
    // filtered client gets is the admitted one, so nothing before it slipped through.
    write(&store, &[Run::new("ok-1", "score_message", now, Success)]).await;
    write(
        &store,
        &[Run::new("other-1", "embed_messages_batch", now, Failed)],
    )
    .await;
    write(&store, &[Run::new("bad-1", "score_message", now, Failed)]).await;
    let message = next_change(&mut failures).await;
    assert_eq!(message["data"]["task_id"], "bad-1");
    assert_eq!(message["status"], "failed");
    let seen: Vec<Value> = [
        next_change(&mut everything).await,
        next_change(&mut everything).await,
        next_change(&mut everything).await,
    ]
    .iter()
    .map(|m| m["data"]["task_id"].clone())
    .collect();
    assert_eq!(seen, [json!("ok-1"), json!("other-1"), json!("bad-1")]);

    // A changed row whose status did not change sends nothing.
    let run = Run::new("same-1", "score_message", now, Running);
    store
        .write_batch(vec![run.event(Pending)])
        .await
        .expect("write");
    let mut requeued = run.event(Pending);
    requeued.run.queue = Some("zzz-other-queue".into());
    let outcome = store.write_batch(vec![requeued]).await.expect("write");
    assert_eq!(outcome.changed.len(), 1, "the row changed");
    store
        .write_batch(vec![run.event(Running)])
        .await
        .expect("write");
    assert_eq!(next_change(&mut everything).await["status"], "pending");
    let next = next_change(&mut everything).await;
    assert_eq!(
        (&next["status"], &next["data"]["previous_status"]),
        (&json!("running"), &json!("pending"))
    );

    // Back to everything.
    subscribe(&mut failures, Value::Null, json!(null)).await;
    write(&store, &[Run::new("ok-2", "score_message", now, Pending)]).await;
    assert_eq!(next_change(&mut failures).await["data"]["task_id"], "ok-2");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_error_group_is_announced_to_clients_whose_filter_admits_its_run(pool: PgPool) {
    let store = store(pool).await;
    let api = Api::start(store.clone(), ApiConfig::default()).await;
    let mut scoring = ws::connect(&api.ws_url(""), None).await.expect("connect");
    subscribe(&mut scoring, json!(["score_message"]), Value::Null).await;
    let mut everything = ws::connect(&api.ws_url(""), None).await.expect("connect");
    subscribe(&mut everything, Value::Null, Value::Null).await;

    let now = chrono::Utc::now();
    write(
        &store,
        &[Run::new("other-1", "embed_messages_batch", now, Failed)],
    )
    .await;
    write(&store, &[Run::new("bad-1", "score_message", now, Failed)]).await;
    // The same failure again: its group is not new.
    write(&store, &[Run::new("bad-2", "score_message", now, Failed)]).await;
    write(&store, &[Run::new("marker", "score_message", now, Pending)]).await;

    let mut heard = Vec::new();
    loop {
        let message = next_json(&mut everything).await;
        let done = message["data"]["task_id"] == "marker";
        heard.push(message);
        if done {
            break;
        }
    }
    let kinds: Vec<(String, String)> = heard
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap_or("").to_owned(),
                m["task_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expect = |t: &str, n: &str| (t.to_owned(), n.to_owned());
    // Each run's statuses (pending, running, failed) in one batch: one change each.
    assert_eq!(
        kinds,
        [
            expect("task_status_changed", "embed_messages_batch"),
            expect("error_group_created", "embed_messages_batch"),
            expect("task_status_changed", "score_message"),
            expect("error_group_created", "score_message"),
            expect("task_status_changed", "score_message"),
            expect("task_status_changed", "score_message"),
        ],
        "{heard:#?}"
    );
    let groups: Value = api
        .http
        .get(api.url("/api/v1/monitoring/errors?time_window=1"))
        .send()
        .await
        .expect("errors")
        .json()
        .await
        .expect("json");
    let scoring_group = groups["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["task_name"] == "score_message"))
        .expect("the group is listed")
        .clone();
    let announced = &heard[3];
    assert_eq!(
        keys(announced),
        sorted(&["type", "task_name", "timestamp", "data"])
    );
    assert_eq!(
        keys(&announced["data"]),
        sorted(&[
            "id",
            "service",
            "environment",
            "error_type",
            "message",
            "first_seen"
        ])
    );
    assert_eq!(announced["data"]["id"], scoring_group["id"]);
    assert_eq!(announced["data"]["error_type"], scoring_group["error_type"]);
    assert_eq!(
        announced["data"]["message"],
        "OpenAI API rate limit exceeded"
    );
    assert_eq!(
        announced["data"]["first_seen"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
        scoring_group["first_seen"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    );

    // The filtered client hears only its task's messages, in the same order.
    let mut filtered = Vec::new();
    loop {
        let message = next_json(&mut scoring).await;
        let done = message["data"]["task_id"] == "marker";
        filtered.push(message);
        if done {
            break;
        }
    }
    assert_eq!(filtered, heard[2..].to_vec());
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_client_message_gets_an_error_and_the_connection_stays(pool: PgPool) {
    let store = store(pool).await;
    let api = Api::start(store.clone(), ApiConfig::default()).await;
    let mut client = ws::connect(&api.ws_url(""), None).await.expect("connect");
    for bad in [
        "not json",
        r#"{"type":"unsubscribe"}"#,
        r#"{"type":"subscribe","statuses":["done"]}"#,
    ] {
        client.send(Message::Text(bad.into())).await.expect("send");
        let reply = next_json(&mut client).await;
        assert_eq!(reply["type"], "error", "{bad}: {reply}");
        assert!(
            reply["data"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(reply["timestamp"].is_string());
    }
    subscribe(&mut client, json!(["score_message"]), Value::Null).await;
    write(
        &store,
        &[Run::new(
            "after-errors",
            "score_message",
            chrono::Utc::now(),
            Pending,
        )],
    )
    .await;
    assert_eq!(
        next_change(&mut client).await["data"]["task_id"],
        "after-errors"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn shutdown_closes_websockets_with_a_close_frame(pool: PgPool) {
    let store = store(pool).await;
    let api = Api::start(store, ApiConfig::default()).await;
    let mut client = ws::connect(&api.ws_url(""), None).await.expect("connect");
    subscribe(&mut client, Value::Null, Value::Null).await;
    let stopping = tokio::spawn(api.running.shutdown());
    let frame = loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a frame")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(frame.map(|f| f.code), Some(CloseCode::Away));
    drop(client);
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("stops")
        .expect("join")
        .expect("clean stop");
}
