//! The store's behaviour, written once and run on both backends (`postgres::<case>` on a fresh,
//! migrated PostgreSQL database; `sqlite::<case>` on a fresh SQLite file). PostgreSQL-only cases
//! are plain `#[sqlx::test]`s, marked as such.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Backend, Life, all_runs, base_time, on_both_backends, store};
use serde_json::json;
use sqlx::PgPool;
use tasklens_model::TaskTypeFilter;
use tasklens_model::limits::MAX_TEXT_BYTES;
use tasklens_model::{RunState, TaskRunEvent, TaskStatus, ValidationRule};
use tasklens_store::{HistoryQuery, StoreError, TimeseriesQuery};

async fn a_run_goes_pending_running_success(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let life = Life::new("run-1", "score_message", Utc::now());

    let outcome = store
        .write_batch(vec![life.pending()])
        .await
        .expect("write");
    assert_eq!(outcome.changed.len(), 1);
    assert_eq!(outcome.changed[0].previous_status, None);
    let id = outcome.changed[0].run.id;
    let row = store.run(id).await.expect("read").expect("exists").run;
    assert_eq!(row.state.status, TaskStatus::Pending);
    assert_eq!(
        row.state.params,
        Some(json!({"message_id": 500, "task": "run-1"}))
    );

    let outcome = store
        .write_batch(vec![life.running()])
        .await
        .expect("write");
    assert_eq!(
        outcome.changed[0].previous_status,
        Some(TaskStatus::Pending)
    );
    let row = store.run(id).await.expect("read").expect("exists").run;
    assert_eq!(row.state.status, TaskStatus::Running);
    assert_eq!(row.state.started_at, Some(life.started_at()));
    assert_eq!(row.duration_ms(), None);

    store
        .write_batch(vec![life.finished()])
        .await
        .expect("write");
    let row = store.run(id).await.expect("read").expect("exists").run;
    assert_eq!(row.state.status, TaskStatus::Success);
    assert!(row.state.completed_at.is_some());
    assert_eq!(row.duration_ms(), Some(1000));
    assert_eq!(row.queue_wait_ms(), Some(40));
    assert_eq!(row.state.worker_host.as_deref(), Some("worker-1"));
    assert_eq!(row.id, id, "every event lands on the same row");
    assert_eq!(all_runs(&store).await.len(), 1);
}

async fn a_failure_keeps_its_message_and_traceback(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let life = Life {
        failure: Some("OpenAI API rate limit exceeded".into()),
        ..Life::new("run-f", "score_message", Utc::now())
    };
    // Finished first, then the late start and enqueue reports: the row stays failed.
    for event in [life.finished(), life.running(), life.pending()] {
        store.write_batch(vec![event]).await.expect("write");
    }
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0].state;
    assert_eq!(run.status, TaskStatus::Failed);
    assert_eq!(
        run.error_message.as_deref(),
        Some("OpenAI API rate limit exceeded")
    );
    assert!(
        run.error_traceback
            .as_deref()
            .is_some_and(|t| t.starts_with("Traceback"))
    );
    assert_eq!(run.error_type.as_deref(), Some("RateLimitError"));
    assert!(run.enqueued_at.is_some() && run.params.is_some());
}

async fn a_duplicate_changes_nothing(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let life = Life::new("dup", "score_message", Utc::now());
    store.write_batch(life.all()).await.expect("write");
    let before = all_runs(&store).await;
    let outcome = store.write_batch(life.all()).await.expect("write");
    assert!(outcome.changed.is_empty(), "{:?}", outcome.changed);
    assert_eq!(all_runs(&store).await, before);
}

async fn retries_are_separate_attempts(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let first = Life {
        failure: Some("timeout".into()),
        ..Life::new("same-id", "embed_atoms_batch", Utc::now())
    };
    let mut second = Life::new("same-id", "embed_atoms_batch", Utc::now());
    second.key.attempt = 1;
    let outcome = store
        .write_batch([first.all(), second.all()].concat())
        .await
        .expect("write");
    assert_eq!(outcome.changed.len(), 2);
    let retry = outcome
        .changed
        .iter()
        .find(|c| c.run.state.attempt == 1)
        .expect("second attempt");
    let detail = store
        .run(retry.run.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(detail.run.state.status, TaskStatus::Success);
    assert_eq!(detail.other_attempts.len(), 1);
    assert_eq!(detail.other_attempts[0].attempt, 0);
    assert_eq!(detail.other_attempts[0].status, TaskStatus::Failed);
    assert_eq!(
        detail.other_attempts[0].error_message.as_deref(),
        Some("timeout")
    );
}

async fn a_run_breaking_a_rule_is_refused_alone(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let good = Life::new("good", "score_message", Utc::now());
    let mut no_message = Life {
        failure: Some("x".into()),
        ..Life::new("bad-failed", "score_message", Utc::now())
    }
    .finished();
    no_message.run.error_message = None;
    let mut no_timestamps = Life::new("bad-success", "score_message", Utc::now()).finished();
    no_timestamps.run.completed_at = None;
    let unknown_status = "done".parse::<TaskStatus>();

    let outcome = store
        .write_batch(vec![good.pending(), no_message, no_timestamps])
        .await
        .expect("the batch is written");
    let rules: Vec<_> = outcome.rejected.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        [
            ValidationRule::FailedRunHasErrorMessage,
            ValidationRule::CompletedRunHasTimestamps
        ]
    );
    assert!(
        outcome.rejected[0]
            .to_string()
            .contains("failed_run_has_error_message")
    );
    assert_eq!(outcome.changed.len(), 1, "the valid run is kept");
    assert!(unknown_status.is_err_and(|e| e.to_string().contains("unknown status \"done\"")));
}

async fn the_database_enforces_the_rules_too(backend: Backend) {
    let _store = store(&backend, Utc::now()).await;
    // Bypassing the store's own validation, as a manual edit would.
    match &backend {
        Backend::Postgres(pg) => {
            let err = sqlx::query(
                "INSERT INTO task_execution_logs (created_at, updated_at, status, source, task_name, task_id) \
                 VALUES (now(), now(), 'failed', 'celery', 'x', 'y')",
            )
            .execute(pg.pool())
            .await
            .expect_err("refused");
            assert!(matches!(
                StoreError::from(err),
                StoreError::RuleViolated { rule } if rule == "completed_run_has_timestamps"
            ));
            let err = sqlx::query(
                "INSERT INTO task_execution_logs (created_at, updated_at, status, source, task_name, task_id) \
                 VALUES (now(), now(), 'finished', 'celery', 'x', 'y')",
            )
            .execute(pg.pool())
            .await
            .expect_err("refused");
            assert!(
                err.to_string()
                    .contains("invalid input value for enum task_status"),
                "{err}"
            );
        }
        Backend::Sqlite { store, .. } => {
            let err = sqlx::query(
                "INSERT INTO task_execution_logs (created_at, updated_at, status, source, task_name, task_id) \
                 VALUES (0, 0, 'failed', 'celery', 'x', 'y')",
            )
            .execute(store.pool())
            .await
            .expect_err("refused");
            assert!(matches!(
                StoreError::from(err),
                StoreError::RuleViolated { rule } if rule == "completed_run_has_timestamps"
            ));
            let err = sqlx::query(
                "INSERT INTO task_execution_logs (created_at, updated_at, status, source, task_name, task_id) \
                 VALUES (0, 0, 'finished', 'celery', 'x', 'y')",
            )
            .execute(store.pool())
            .await
            .expect_err("refused");
            assert!(
                matches!(StoreError::from(err), StoreError::RuleViolated { rule } if rule == "known_status")
            );
        }
    }
}

async fn oversized_text_is_cut_with_a_marker_not_refused(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let life = Life {
        failure: Some("boom".into()),
        ..Life::new("big", "extract_knowledge_from_messages", Utc::now())
    };
    let mut finished = life.finished();
    finished.run.error_traceback = Some("frame\n".repeat(50_000)); // 300 KB
    let mut pending = life.pending();
    pending.run.params = Some(json!({"blob": "p".repeat(200_000)}));
    let outcome = store
        .write_batch(vec![pending, finished])
        .await
        .expect("write");
    assert!(outcome.rejected.is_empty());
    let run = &all_runs(&store).await[0].state;
    let traceback = run.error_traceback.as_deref().expect("kept");
    assert!(traceback.len() <= MAX_TEXT_BYTES);
    // A traceback keeps its end (the innermost frames), the marker where it was cut.
    assert!(
        traceback.starts_with("[truncated by tasklens: 300000 bytes in all]"),
        "{}",
        &traceback[..80]
    );
    assert!(traceback.ends_with("frame\n"));
    let params = run.params.as_ref().expect("kept");
    assert_eq!(params["_tasklens_truncated"], json!(true));
    assert_eq!(params["original_bytes"], json!(200_011));
}

async fn history_filters_pages_and_counts(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let mut events = Vec::new();
    for i in 0..30 {
        let name = if i % 3 == 0 {
            "score_message"
        } else {
            "embed_messages_batch"
        };
        let life = Life {
            failure: (i % 5 == 0).then(|| format!("quota exceeded for key {i}")),
            ..Life::new(&format!("task-{i:03}"), name, now - TimeDelta::minutes(i))
        };
        events.extend(life.all());
    }
    store.write_batch(events).await.expect("write");

    let page = store
        .history(&HistoryQuery {
            task_name: Some("score_message".into()),
            status: Some(TaskStatus::Failed),
            ..Default::default()
        })
        .await
        .expect("history");
    // i % 15 == 0 in 0..30: 0 and 15.
    assert_eq!(page.total_count, 2);
    assert!(
        page.items
            .iter()
            .all(|r| r.state.task_name == "score_message" && r.state.status == TaskStatus::Failed)
    );
    assert!(
        page.items[0].created_at >= page.items[1].created_at,
        "newest first"
    );

    let page2 = store
        .history(&HistoryQuery {
            page: 2,
            page_size: 7,
            ..Default::default()
        })
        .await
        .expect("history");
    assert_eq!(page2.total_count, 30);
    assert_eq!(page2.total_pages(), 5);
    assert_eq!(page2.items.len(), 7);
    assert_eq!(page2.items[0].state.task_id, "task-007");

    let window = store
        .history(&HistoryQuery {
            start: Some(now - TimeDelta::minutes(10) - TimeDelta::seconds(30)),
            end: Some(now - TimeDelta::minutes(2) - TimeDelta::seconds(30)),
            ..Default::default()
        })
        .await
        .expect("history");
    // t0 in (now-10m30s, now-2m30s]: minutes 3..=10.
    assert_eq!(window.total_count, 8);
    assert_eq!(window.items.len(), 8);

    for (text, expected) in [
        ("QUOTA exceeded", 6),
        ("task-02", 10),
        ("task-025", 1),
        ("100%", 0),
    ] {
        let found = store
            .history(&HistoryQuery {
                text: Some(text.into()),
                ..Default::default()
            })
            .await
            .expect("history");
        assert_eq!(found.total_count, expected, "{text}");
        assert_eq!(found.items.len(), expected as usize, "{text}");
    }

    let exact = store
        .history(&HistoryQuery {
            text: Some("quota".into()),
            ..Default::default()
        })
        .await
        .expect("history");
    assert!(exact.total_is_exact);

    let bad = store
        .history(&HistoryQuery {
            start: Some(now),
            end: Some(now - TimeDelta::hours(1)),
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidQuery(m)) if m.contains("start")));
    let bad = store
        .history(&HistoryQuery {
            page_size: 500,
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidQuery(m)) if m.contains("page_size")));
}

async fn metrics_timeseries_and_task_names(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let mut events = Vec::new();
    for i in 0..20 {
        let life = Life {
            duration_ms: 100 * (i + 1),
            failure: (i == 0).then(|| "boom".to_string()),
            ..Life::new(
                &format!("m-{i}"),
                "scheduled_daily_digest",
                now - TimeDelta::minutes(i),
            )
        };
        events.extend(life.all());
    }
    // Two runs still in flight.
    events.push(Life::new("p-1", "score_message", now).pending());
    events.push(Life::new("r-1", "score_message", now).running());
    store.write_batch(events).await.expect("write");

    let metrics = store
        .metrics(now - TimeDelta::hours(24), &TaskTypeFilter::default())
        .await
        .expect("metrics");
    assert_eq!(metrics.len(), 2);
    let digest = &metrics[0];
    assert_eq!(digest.task_name, "scheduled_daily_digest");
    assert_eq!(digest.total_executions, 20);
    assert_eq!((digest.success, digest.failed), (19, 1));
    assert_eq!(digest.success_rate, 95.0);
    assert_eq!(digest.avg_duration_ms, Some(1050.0));
    let p50 = digest.p50_duration_ms.expect("p50");
    assert!((p50 - 1000.0).abs() <= 50.0, "p50 {p50}");
    let wait = digest.p50_queue_wait_ms.expect("queue wait");
    assert!((wait - 40.0).abs() <= 2.0, "queue wait p50 {wait}");
    let score = &metrics[1];
    assert_eq!(
        (score.pending, score.running, score.total_executions),
        (1, 1, 2)
    );
    assert_eq!(score.avg_duration_ms, None);
    assert_eq!(score.success_rate, 0.0);

    let points = store
        .timeseries(&TimeseriesQuery {
            start: now - TimeDelta::hours(1),
            end: None,
            task_type: TaskTypeFilter::task_name(Some("scheduled_daily_digest")),
            granularity: None,
        })
        .await
        .expect("timeseries");
    assert_eq!(points.iter().map(|p| p.success + p.failed).sum::<i64>(), 20);
    assert!(points.windows(2).all(|w| w[0].bucket < w[1].bucket));

    assert_eq!(
        store
            .task_types(&TaskTypeFilter::default())
            .await
            .expect("names")
            .into_iter()
            .map(|t| t.task_name)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
        ["scheduled_daily_digest", "score_message"]
    );
}

// PostgreSQL only: SQLite has no partitions.
#[sqlx::test(migrations = "../migrations")]
async fn a_row_outside_every_partition_lands_in_the_default_one_then_moves(pool: PgPool) {
    let now = base_time();
    let backend = Backend::postgres(pool.clone());
    let store = store(&backend, now).await;
    let far = now + TimeDelta::days(40);
    let life = Life::new("future", "scheduled_auto_approval", far);
    store
        .write_batch(life.all())
        .await
        .expect("a far-future row is not refused");
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM task_execution_logs_default")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(in_default, 1);

    // Forty days on, maintenance creates that day's partition and moves the row into it.
    let report = store
        .maintain(&tasklens_store::RetentionPolicy {
            now: far,
            ..tasklens_store::RetentionPolicy::new(30)
        })
        .await
        .expect("maintain");
    assert_eq!(report.rows_moved_from_default, 1);
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM task_execution_logs_default")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(in_default, 0);
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state.status, TaskStatus::Success);
    // And it still merges: a duplicate changes nothing.
    let outcome = store.write_batch(life.all()).await.expect("write");
    assert!(outcome.changed.is_empty());
}

async fn concurrent_writers_of_one_run_converge_on_one_row(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let lives: Vec<Life> = (0..200)
        .map(|i| Life::new(&format!("c-{i}"), "embed_messages_batch", Utc::now()))
        .collect();
    let a: Vec<TaskRunEvent> = lives
        .iter()
        .flat_map(|l| [l.pending(), l.finished()])
        .collect();
    let mut b: Vec<TaskRunEvent> = lives
        .iter()
        .flat_map(|l| [l.running(), l.pending()])
        .collect();
    b.reverse();
    let (s1, s2) = (store.clone(), store.clone());
    let (r1, r2) = tokio::join!(
        tokio::spawn(async move { s1.write_batch(a).await }),
        tokio::spawn(async move { s2.write_batch(b).await })
    );
    r1.expect("join").expect("write");
    r2.expect("join").expect("write");
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 200);
    assert!(runs.iter().all(|r| r.state.status == TaskStatus::Success
        && r.state.worker_host.is_some()
        && r.state.enqueued_at.is_some()));
}

#[test]
fn a_state_with_every_field_round_trips_through_events() {
    // Keeps the builders honest: a finished event is valid on its own.
    let life = Life::new("x", "y", base_time());
    for event in life.all() {
        let state: RunState = event.run;
        assert_eq!(state.validate(), Ok(()));
    }
}

async fn every_committed_change_is_published_live(backend: Backend) {
    let store = store(&backend, Utc::now()).await;
    let mut subscription = store.subscribe().await.expect("subscribe");
    let life = Life {
        failure: Some("boom".into()),
        ..Life::new("live-1", "score_message", Utc::now())
    };
    store
        .write_batch(vec![life.pending()])
        .await
        .expect("write");
    store
        .write_batch(vec![life.finished()])
        .await
        .expect("write");
    store
        .write_batch(vec![life.finished()])
        .await
        .expect("a duplicate publishes nothing");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let events = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            subscription.recv_events(),
        )
        .await
        .expect("an event within 5 s")
        .expect("recv");
        seen.extend(events);
    }
    assert_eq!(seen[0].status, TaskStatus::Pending);
    assert_eq!(seen[0].previous_status, None);
    assert_eq!(seen[1].status, TaskStatus::Failed);
    assert_eq!(seen[1].previous_status, Some(TaskStatus::Pending));
    assert_eq!(seen[1].error_message.as_deref(), Some("boom"));
    assert_eq!(seen[1].duration_ms, Some(1000));
    // Events arrive in commit order: if the duplicate had published, it would come before the
    // change committed after it.
    let marker = Life::new("live-2", "score_message", Utc::now());
    store
        .write_batch(vec![marker.pending()])
        .await
        .expect("write");
    let mut next = seen.split_off(2);
    while next.is_empty() {
        next = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            subscription.recv_events(),
        )
        .await
        .expect("an event within 5 s")
        .expect("recv");
    }
    assert_eq!(
        (next[0].task_id.as_str(), next[0].status),
        ("live-2", TaskStatus::Pending),
        "the duplicate must not publish: {next:?}"
    );
}

async fn a_free_text_count_stops_at_its_cap(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let cap = HistoryQuery::TEXT_COUNT_CAP;
    let events: Vec<TaskRunEvent> = (0..cap + 5)
        .map(|i| {
            Life {
                failure: Some(format!("connection reset by peer #{i}")),
                ..Life::new(&format!("cap-{i}"), "ingest_telegram_messages", now)
            }
            .finished()
        })
        .collect();
    store.write_batch(events).await.expect("write");
    let page = store
        .history(&HistoryQuery {
            text: Some("connection reset".into()),
            ..Default::default()
        })
        .await
        .expect("history");
    assert_eq!(page.total_count, cap);
    assert!(!page.total_is_exact, "more than the cap: a lower bound");
    assert_eq!(page.items.len(), 50);
    let all = store
        .history(&HistoryQuery::default())
        .await
        .expect("history");
    assert_eq!(all.total_count, cap + 5);
    assert!(all.total_is_exact);
}

/// Free text also finds runs by their params: a case-insensitive part of the params' JSON text,
/// wildcards taken literally, counted up to the same cap as the other free-text matches.
async fn free_text_finds_runs_by_their_params(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let with_params = |task_id: &str, params: Option<serde_json::Value>| {
        let mut event = Life::new(task_id, "send_digest", now).pending();
        event.run.params = params;
        event
    };
    store
        .write_batch(vec![
            with_params(
                "p-alice",
                Some(json!({"user": "Alice@Example.com", "chat_id": 4242})),
            ),
            with_params("p-bob", Some(json!({"user": "bob", "chat_id": 500}))),
            with_params(
                "p-list",
                Some(json!(["invoice-77", {"nested": "Deep Value"}])),
            ),
            with_params("p-none", None),
        ])
        .await
        .expect("write");
    let search = |text: &'static str| {
        let store = store.clone();
        async move {
            let page = store
                .history(&HistoryQuery {
                    text: Some(text.into()),
                    ..Default::default()
                })
                .await
                .expect("history");
            let mut ids: Vec<String> = page.items.iter().map(|r| r.state.task_id.clone()).collect();
            ids.sort();
            assert_eq!(page.total_count, ids.len() as i64, "{text}");
            assert!(page.total_is_exact, "{text}");
            ids
        }
    };
    assert_eq!(
        search("alice@example").await,
        ["p-alice"],
        "a part, any case"
    );
    assert_eq!(search("ALICE@EXAMPLE.COM").await, ["p-alice"]);
    assert_eq!(search("4242").await, ["p-alice"], "a number");
    assert_eq!(
        search(r#""user": "bob""#).await,
        ["p-bob"],
        "spelled as the page shows params, on both backends"
    );
    assert_eq!(search("deep value").await, ["p-list"], "nested in an array");
    assert_eq!(
        search("chat_id").await,
        ["p-alice", "p-bob"],
        "keys are text too"
    );
    assert_eq!(
        search("chat%id").await,
        Vec::<String>::new(),
        "% is literal"
    );
    assert_eq!(search("4_42").await, Vec::<String>::new(), "_ is literal");
    assert_eq!(search("nobody").await, Vec::<String>::new());

    // The count cap holds for matches by params as for error messages.
    let cap = HistoryQuery::TEXT_COUNT_CAP;
    let events: Vec<TaskRunEvent> = (0..cap + 5)
        .map(|i| {
            with_params(
                &format!("tenant-run-{i}"),
                Some(json!({"tenant": "Acme Corp"})),
            )
        })
        .collect();
    store.write_batch(events).await.expect("write");
    let page = store
        .history(&HistoryQuery {
            text: Some("acme corp".into()),
            ..Default::default()
        })
        .await
        .expect("history");
    assert_eq!(page.total_count, cap);
    assert!(!page.total_is_exact, "more than the cap: a lower bound");
    assert_eq!(page.items.len(), 50);
}

/// Free-text matches spread over weeks come back newest first across day boundaries, page after
/// page, with an exact count, and within a date range; a future-dated run is found too.
async fn free_text_pages_run_newest_first_across_days(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let mut expected = Vec::new();
    let mut events = Vec::new();
    // Days back from now, three matching runs each (hours apart), plus one that does not match.
    for days_back in [-1_i64, 0, 1, 2, 3, 5, 9, 17, 29, 45] {
        for hour in [1_i64, 7, 13] {
            let t0 = now - TimeDelta::days(days_back) - TimeDelta::hours(hour);
            let id = format!("walk-{days_back}-{hour}");
            events.push(
                Life {
                    failure: Some(format!("upstream timeout talking to {id}")),
                    ..Life::new(&id, "score_message", t0)
                }
                .finished(),
            );
            expected.push((t0, id));
        }
        let t0 = now - TimeDelta::days(days_back) - TimeDelta::hours(3);
        events.push(Life::new(&format!("quiet-{days_back}"), "score_message", t0).finished());
    }
    store.write_batch(events).await.expect("write");
    expected.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let ids_between = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| -> Vec<String> {
        expected
            .iter()
            .filter(|(t, _)| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t < e))
            .map(|(_, id)| id.clone())
            .collect()
    };
    for (start, end) in [
        (None, None),
        (
            Some(now - TimeDelta::days(10)),
            Some(now - TimeDelta::days(1)),
        ),
        (None, Some(now - TimeDelta::days(4))),
        (Some(now - TimeDelta::days(20)), None),
    ] {
        let want = ids_between(start, end);
        let mut got = Vec::new();
        for page in 1..=20 {
            let result = store
                .history(&HistoryQuery {
                    text: Some("UPSTREAM TIMEOUT".into()),
                    start,
                    end,
                    page,
                    page_size: 4,
                    ..Default::default()
                })
                .await
                .expect("history");
            assert_eq!(result.total_count, want.len() as i64, "{start:?}..{end:?}");
            assert!(result.total_is_exact);
            if result.items.is_empty() {
                break;
            }
            got.extend(result.items.into_iter().map(|r| r.state.task_id));
        }
        assert_eq!(got, want, "{start:?}..{end:?}");
    }
}

/// Makes every batch holding a run of the task type `poison` fail inside its transaction, after
/// the other runs of the batch were written: a database refusal the store cannot foresee.
async fn refuse_poison_inside_the_transaction(backend: &Backend) {
    match backend {
        Backend::Postgres(pg) => {
            sqlx::query(
                "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'poison refused by the test'; END $$",
            )
            .execute(pg.pool())
            .await
            .expect("function");
            sqlx::query(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON task_execution_logs FOR EACH ROW \
                 WHEN (NEW.task_name = 'poison') EXECUTE FUNCTION refuse_poison()",
            )
            .execute(pg.pool())
            .await
            .expect("trigger");
        }
        Backend::Sqlite { store, .. } => {
            sqlx::query(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON task_execution_logs \
                 WHEN NEW.task_name = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poison refused by the test'); END",
            )
            .execute(store.pool())
            .await
            .expect("trigger");
        }
    }
}

async fn a_rolled_back_batch_publishes_nothing_and_keeps_nothing(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    refuse_poison_inside_the_transaction(&backend).await;
    let mut subscription = store.subscribe().await.expect("subscribe");
    let lives: Vec<Life> = (0..20)
        .map(|i| Life::new(&format!("rb-{i}"), "score_message", now))
        .collect();
    let mut doomed: Vec<TaskRunEvent> = lives.iter().flat_map(Life::all).collect();
    doomed.push(Life::new("rb-poison", "poison", now).pending());
    let failed = store.write_batch(doomed).await;
    assert!(failed.is_err(), "the database refused the batch");
    assert!(
        all_runs(&store).await.is_empty(),
        "nothing of the batch is kept"
    );
    assert!(
        store
            .metrics(now - TimeDelta::hours(1), &TaskTypeFilter::default())
            .await
            .expect("metrics")
            .is_empty()
    );

    // The next committed batch is the first thing subscribers hear of.
    let survivor = Life::new("rb-after", "score_message", now);
    store
        .write_batch(vec![survivor.pending()])
        .await
        .expect("write");
    let events = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        subscription.recv_events(),
    )
    .await
    .expect("an event within 5 s")
    .expect("recv");
    let ids: Vec<&str> = events.iter().map(|e| e.task_id.as_str()).collect();
    assert_eq!(ids, ["rb-after"]);
    assert_eq!(all_runs(&store).await.len(), 1);
}

on_both_backends!(
    a_run_goes_pending_running_success,
    a_failure_keeps_its_message_and_traceback,
    a_duplicate_changes_nothing,
    retries_are_separate_attempts,
    a_run_breaking_a_rule_is_refused_alone,
    the_database_enforces_the_rules_too,
    oversized_text_is_cut_with_a_marker_not_refused,
    history_filters_pages_and_counts,
    metrics_timeseries_and_task_names,
    concurrent_writers_of_one_run_converge_on_one_row,
    every_committed_change_is_published_live,
    a_free_text_count_stops_at_its_cap,
    free_text_finds_runs_by_their_params,
    free_text_pages_run_newest_first_across_days,
    a_rolled_back_batch_publishes_nothing_and_keeps_nothing,
);
