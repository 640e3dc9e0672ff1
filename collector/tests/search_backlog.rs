//! The collector folds the free-text indexes' waiting entries in the background after its
//! commits, so no batch of senders waits for it. Its own test binary: the Prometheus recorder is
//! process-wide, and here only this test's collector counts.

mod common;

use common::*;
use prost::Message;
use reqwest::StatusCode;
use sqlx::PgPool;

/// The value of a counter in a Prometheus text page (0 when absent).
fn counter(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[sqlx::test(migrations = "../migrations")]
async fn the_collector_folds_the_free_text_backlog_after_its_commits(pool: PgPool) {
    let (collector, store) = collector(pool, test_config()).await;
    let admin = collector.admin_addr;
    let folded = || async {
        let page = metrics_page(admin).await;
        counter(
            &page,
            "tasklens_collector_search_backlog_pages_folded_total",
        )
    };
    assert_eq!(folded().await, 0.0, "nothing written yet");

    // Runs with params and errors: entries for both trigram indexes.
    let spans = (0..200)
        .flat_map(|n| tasklens_spans(n, "score_message", n % 4 == 0))
        .collect();
    let answer = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", collector.http_addr))
        .header("content-type", "application/x-protobuf")
        .body(request(spans).encode_to_vec())
        .send()
        .await
        .expect("export");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(run_count(&store).await, 200);

    // Nobody but the collector folds here.
    wait_until("the collector to fold the backlog", || async {
        folded().await > 0.0
    })
    .await;
    collector.shutdown().await.expect("shutdown");
}
