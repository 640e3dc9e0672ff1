//! Text PostgreSQL cannot store (NUL characters, in text columns and in JSON) reaches the store
//! from user code through any instrumentation: on both backends the run is kept, with each NUL
//! replaced by U+FFFD, and the rest of its batch too.

mod common;

use chrono::Utc;
use common::{Backend, Life, all_runs, on_both_backends, store};
use serde_json::json;

async fn nul_characters_are_replaced_not_refused(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let mut hostile = Life::new("nul\0id", "score\0message", now);
    hostile.failure = Some("bad byte \0 here".into());
    let mut events = hostile.all();
    events[0].run.params = Some(json!({"text": "a\0b", "k\0ey": ["\0"]}));
    events[0].run.queue = Some("q\0".into());
    events.extend(Life::new("plain", "score_message", now).all());
    let outcome = store
        .write_batch(events)
        .await
        .expect("the batch is written");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);

    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 2, "both runs kept");
    let run = runs
        .iter()
        .find(|r| r.state.task_id == "nul\u{fffd}id")
        .expect("the hostile run, its NUL replaced");
    assert_eq!(run.state.task_name, "score\u{fffd}message");
    assert_eq!(
        run.state.error_message.as_deref(),
        Some("bad byte \u{fffd} here")
    );
    assert_eq!(run.state.queue.as_deref(), Some("q\u{fffd}"));
    assert_eq!(
        run.state.params,
        Some(json!({"text": "a\u{fffd}b", "k\u{fffd}ey": ["\u{fffd}"]}))
    );
}

on_both_backends!(nul_characters_are_replaced_not_refused);
