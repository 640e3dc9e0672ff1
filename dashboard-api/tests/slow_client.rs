//! A slow WebSocket client never holds up the others: one that never reads (with a small socket
//! buffer and a small queue) is told to resync, while a fast client receives every event.
//! Its own test binary, so the process's resync counter is this test's alone.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use sqlx::PgPool;
use tasklens_dashboard_api::ApiConfig;
use tasklens_model::TaskStatus::Failed;
use tokio::net::TcpSocket;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

use common::ws::{self, next_json};
use common::{Api, Run, store, write};

const LAST: &str = "the-last-run";
const RUNS_PER_BATCH: usize = 8;
/// Bounds the test: about 18 MB of messages at most.
const MAX_BATCHES: usize = 2500;

/// A client whose socket buffers little, so that not reading fills it fast.
async fn small_buffer_client(api: &Api) -> ws::Ws {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let stream = socket.connect(api.running.addr).await.expect("connect");
    let (client, _) =
        tokio_tungstenite::client_async(api.ws_url(""), MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
    client
}

async fn slow_client_resyncs(api: &Api) -> bool {
    let text = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines().any(|line| {
        line.starts_with("tasklens_api_websocket_resyncs_total")
            && line.contains("reason=\"slow_client\"")
            && !line.ends_with(" 0")
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_slow_client_is_told_to_resync_while_a_fast_one_gets_every_event(pool: PgPool) {
    let store = store(pool).await;
    let api = Api::start(
        store.clone(),
        ApiConfig {
            ws_client_buffer: 64,
            ..ApiConfig::default()
        },
    )
    .await;
    let mut slow = small_buffer_client(&api).await;
    let mut fast = ws::connect(&api.ws_url(""), None).await.expect("connect");
    ws::subscribe(&mut slow, Value::Null, Value::Null).await;
    ws::subscribe(&mut fast, Value::Null, Value::Null).await;

    // The fast client reads everything up to the last run written (events come in commit
    // order).
    let reader = tokio::spawn(async move {
        let mut ids = HashSet::new();
        let mut resyncs = 0;
        while let Some(Ok(frame)) = fast.next().await {
            let Message::Text(text) = frame else { continue };
            let message: Value = serde_json::from_str(text.as_str()).expect("json");
            match message["type"].as_str() {
                Some("task_status_changed") => {
                    let id = message["data"]["task_id"].as_str().expect("id").to_owned();
                    if id == LAST {
                        break;
                    }
                    ids.insert(id);
                }
                Some("resync") => resyncs += 1,
                _ => {}
            }
        }
        (ids, resyncs)
    });

    // Big messages (long ids, long errors) fill the slow client's socket sooner.
    let error = "e".repeat(400);
    let mut written = Vec::new();
    let mut overflowed_at = None;
    for batch in 0..MAX_BATCHES {
        let runs: Vec<Run> = (0..RUNS_PER_BATCH)
            .map(|i| {
                let task_id = format!("{batch:05}-{i}-{}", "x".repeat(180));
                Run::new(
                    &task_id,
                    "scheduled_knowledge_extraction",
                    chrono::Utc::now(),
                    Failed,
                )
                .error(&error)
            })
            .collect();
        write(&store, &runs).await;
        written.extend(runs.into_iter().map(|run| run.task_id));
        if overflowed_at.is_none() && batch % 10 == 9 && slow_client_resyncs(&api).await {
            overflowed_at = Some(batch);
        }
        // Keep going a little after the overflow: the fast client must still get everything.
        if overflowed_at.is_some_and(|at| batch >= at + 20) {
            break;
        }
    }
    let overflowed_at = overflowed_at.expect("the slow client overflowed within the bound");

    write(
        &store,
        &[Run::new(
            LAST,
            "scheduled_knowledge_extraction",
            chrono::Utc::now(),
            Failed,
        )],
    )
    .await;

    // The fast client received every event, and no resync.
    let (fast_ids, fast_resyncs) = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the fast client got the last event")
        .expect("reader");
    let missing: Vec<&String> = written
        .iter()
        .filter(|id| !fast_ids.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "the fast client missed {} of {} events (overflow after batch {overflowed_at})",
        missing.len(),
        written.len()
    );
    assert_eq!(fast_resyncs, 0);

    // The slow client, reading at last, finds its resync after what its socket held, and has
    // fewer events than were written.
    let mut slow_events = 0;
    let resync = loop {
        let message = next_json(&mut slow).await;
        match message["type"].as_str() {
            Some("task_status_changed") => slow_events += 1,
            Some("error_group_created") => {}
            Some("resync") => break message,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(resync["data"]["reason"], "slow_client");
    assert!(
        slow_events < written.len(),
        "{slow_events} of {}",
        written.len()
    );
}
