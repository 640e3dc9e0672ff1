//! `tasklens collector --secret-keys`: the keys it names are redacted in stored params (and the
//! list replaces the default one), and a redacted value cannot be found by free-text search.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tasklens_model::conventions as conv;
use tasklens_store::{HistoryQuery, PgStore, TaskStore};

mod common;
use common::spawn_tasklens;

fn url_of(pool: &PgPool) -> String {
    format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().expect("a database")
    )
}

/// Polls `check` every 50 ms; fails with `what` after 30 s.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One enqueue span of the tasklens conventions, as OTLP/JSON.
fn enqueue_request(params: &Value) -> Value {
    let attribute = |key: &str, value: &str| json!({"key": key, "value": {"stringValue": value}});
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", "billing")]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "name": "enqueue charge_card",
            "kind": 4,
            "startTimeUnixNano": now.to_string(),
            "endTimeUnixNano": (now + 1000).to_string(),
            "attributes": [
                attribute(conv::TASK_NAME, "charge_card"),
                attribute(conv::TASK_ID, "charge-1"),
                attribute(conv::TASK_PARAMS, &params.to_string()),
            ],
        }]}],
    }]})
}

async fn search(store: &PgStore, text: &str) -> i64 {
    store
        .history(&HistoryQuery {
            text: Some(text.to_owned()),
            ..Default::default()
        })
        .await
        .expect("history")
        .total_count
}

#[sqlx::test(migrations = "../migrations")]
async fn secret_keys_name_what_is_redacted_and_redacted_values_cannot_be_found(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone());
    let url = url_of(&pool);
    let args = [
        "collector",
        "--database-url",
        &url,
        "--otlp-grpc-addr",
        "127.0.0.1:0",
        "--otlp-http-addr",
        "127.0.0.1:0",
        "--admin-addr",
        "127.0.0.1:0",
        "--secret-keys",
        "ssn, card_number",
    ];
    let (printed, collector) = spawn_tasklens(args.map(str::to_owned).to_vec());
    let http = wait_for("the collector to say where it listens", || {
        let text = printed.text();
        async move {
            let (_, rest) = text.split_once("OTLP/HTTP on http://")?;
            rest.split_whitespace().next().map(str::to_owned)
        }
    })
    .await;

    let params = json!({
        "customer": "acme-industries",
        "ssn": "078-05-1120",
        "payment": {"card_number": "4111111111111111", "amount": 12},
        "password": "hunter2",
    });
    let answer = reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .json(&enqueue_request(&params))
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), reqwest::StatusCode::OK);

    let stored = wait_for("the run to be stored", || async {
        let page = store.history(&HistoryQuery::default()).await.ok()?;
        page.items.into_iter().next()
    })
    .await;
    assert_eq!(
        stored.state.params,
        Some(json!({
            "customer": "acme-industries",
            "ssn": "[redacted]",
            "payment": {"card_number": "[redacted]", "amount": 12},
            // The flag's list replaces the default one, which would have named this key.
            "password": "hunter2",
        }))
    );

    // Free text reaches params once the search backlog has folded them in; then a kept value
    // is found and a redacted one is not.
    wait_for("a kept param value to be searchable", || async {
        (search(&store, "acme-industries").await == 1).then_some(())
    })
    .await;
    assert_eq!(search(&store, "hunter2").await, 1, "not named: kept");
    assert_eq!(search(&store, "078-05-1120").await, 0, "redacted ssn");
    assert_eq!(search(&store, "4111111111111111").await, 0, "redacted card");
    collector.abort();
}
