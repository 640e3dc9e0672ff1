//! Error groups on both backends: kept in the batch's transaction (each failed run counted once,
//! whatever the duplication or order of its events), read from the group rollups, resolved,
//! ignored and reopened.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Backend, Life, Store, on_both_backends, store};
use tasklens_model::TaskRunEvent;
use tasklens_store::{ErrorGroupState, ErrorGroupSummary, HistoryQuery};

fn failing(id: &str, task: &str, t0: DateTime<Utc>, message: &str) -> Life {
    let mut life = Life::new(id, task, t0);
    life.failure = Some(message.to_owned());
    life
}

async fn window(store: &Store, hours: i64) -> Vec<ErrorGroupSummary> {
    store
        .error_groups(Utc::now() - TimeDelta::hours(hours), &Default::default())
        .await
        .expect("error groups")
}

async fn failed_runs_are_grouped_and_counted_once(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let lives = [
        failing("a", "score_message", ago(30), "rate limited"),
        failing("b", "score_message", ago(20), "rate limited"),
        failing("c", "score_message", ago(10), "rate limited"),
        failing("d", "embed_atoms_batch", ago(5), "out of memory"),
        Life::new("ok", "score_message", ago(3)),
    ];
    let events: Vec<TaskRunEvent> = lives.iter().flat_map(Life::all).collect();
    // The finished events first, in one batch; then everything again, reversed, one by one.
    let finished: Vec<_> = lives.iter().map(Life::finished).collect();
    store.write_batch(finished).await.expect("write");
    for event in events.iter().rev() {
        store.write_batch(vec![event.clone()]).await.expect("write");
    }
    store.write_batch(events).await.expect("write");

    let groups = window(&store, 1).await;
    let names: Vec<_> = groups
        .iter()
        .map(|g| (g.group.task_name.as_str(), g.group.total, g.count))
        .collect();
    assert_eq!(
        names,
        vec![("embed_atoms_batch", 1, 1), ("score_message", 3, 3)],
        "most recently seen first, each failed run once"
    );
    let score = &groups[1];
    assert!(score.is_new);
    assert_eq!(score.group.state, ErrorGroupState::Open);
    assert_eq!(score.group.message.as_deref(), Some("rate limited"));
    assert_eq!(
        score.group.first_seen,
        lives[0].finished().run.completed_at.expect("done")
    );
    assert_eq!(
        score.group.last_seen,
        lives[2].finished().run.completed_at.expect("done")
    );
    // Hourly buckets over the window, oldest first, summing to the count.
    assert!(
        (2..=3).contains(&score.buckets.len()),
        "{:?}",
        score.buckets
    );
    assert!(score.buckets.windows(2).all(|w| w[0].bucket < w[1].bucket));
    assert_eq!(score.buckets.iter().map(|b| b.count).sum::<i64>(), 3);
    // Beyond 48 hours: daily buckets.
    let week = window(&store, 24 * 7).await;
    assert_eq!(week.len(), 2);
    assert_eq!(week[1].buckets.len(), 8, "{:?}", week[1].buckets);
    assert_eq!(week[1].count, 3);
    // A task filter.
    let only = store
        .error_groups(
            now - TimeDelta::hours(1),
            &tasklens_model::TaskTypeFilter::task_name(Some("embed_atoms_batch")),
        )
        .await
        .expect("groups");
    assert_eq!(only.len(), 1);

    // The detail: the traceback and the latest runs, newest first.
    let detail = store
        .error_group(score.group.id)
        .await
        .expect("read")
        .expect("the group");
    assert!(
        detail
            .group
            .traceback
            .as_deref()
            .is_some_and(|t| t.contains("rate limited"))
    );
    let ids: Vec<_> = detail
        .latest_runs
        .iter()
        .map(|r| r.state.task_id.as_str())
        .collect();
    assert_eq!(ids, vec!["c", "b", "a"]);
    assert!(
        store
            .error_group(score.group.id + 1000)
            .await
            .expect("read")
            .is_none()
    );

    // The history of one group.
    let page = store
        .history(&HistoryQuery {
            error_group: Some(score.group.id),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    assert_eq!(page.total_count, 3);
    assert_eq!(page.items.len(), 3);
}

async fn a_resolved_group_failing_again_reopens_as_a_regression(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let first = failing("a", "score_message", ago(30), "rate limited");
    store.write_batch(first.all()).await.expect("write");
    let id = window(&store, 1).await[0].group.id;

    let resolved = store
        .set_error_group_state(id, ErrorGroupState::Resolved)
        .await
        .expect("set")
        .expect("the group");
    assert_eq!(
        (resolved.state, resolved.regression),
        (ErrorGroupState::Resolved, false)
    );
    // A duplicate of the old failure is no new failure.
    store.write_batch(first.all()).await.expect("write");
    assert_eq!(
        window(&store, 1).await[0].group.state,
        ErrorGroupState::Resolved
    );

    store
        .write_batch(failing("b", "score_message", ago(10), "rate limited").all())
        .await
        .expect("write");
    let group = &window(&store, 1).await[0].group;
    assert_eq!(
        (group.state, group.regression, group.total),
        (ErrorGroupState::Open, true, 2)
    );

    // Ignored stays ignored.
    store
        .set_error_group_state(id, ErrorGroupState::Ignored)
        .await
        .expect("set");
    store
        .write_batch(failing("c", "score_message", ago(5), "rate limited").all())
        .await
        .expect("write");
    let group = &window(&store, 1).await[0].group;
    assert_eq!(
        (group.state, group.regression, group.total),
        (ErrorGroupState::Ignored, false, 3)
    );
    // Reopened by hand.
    let open = store
        .set_error_group_state(id, ErrorGroupState::Open)
        .await
        .expect("set")
        .expect("the group");
    assert_eq!(open.state, ErrorGroupState::Open);
    assert!(
        store
            .set_error_group_state(id + 1000, ErrorGroupState::Open)
            .await
            .expect("set")
            .is_none()
    );
}

async fn a_more_complete_traceback_moves_the_run_to_its_group(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let life = failing(
        "a",
        "score_message",
        now - TimeDelta::minutes(10),
        "bad score",
    );
    let mut short = life.finished();
    short.run.error_traceback = None;
    store.write_batch(vec![short]).await.expect("write");
    let before = window(&store, 1).await;
    assert_eq!(before.len(), 1);
    let mut full = life.finished();
    full.run.error_traceback = Some(
        "Traceback (most recent call last):\n  File \"/app/tasks/score.py\", line 12, in score\n    \
         raise ValueError(\"bad score\")\nValueError: bad score"
            .into(),
    );
    store.write_batch(vec![full]).await.expect("write");
    let after = window(&store, 1).await;
    assert_eq!(
        after.len(),
        1,
        "the old group, left empty, is not shown: {after:?}"
    );
    assert_ne!(after[0].group.id, before[0].group.id);
    assert_eq!((after[0].group.total, after[0].count), (1, 1));
    let old = store
        .error_group(before[0].group.id)
        .await
        .expect("read")
        .expect("the old group stays");
    assert_eq!(old.group.total, 0);
    assert!(old.latest_runs.is_empty());
}

/// Events until `marker`'s pending run arrives (events come in commit order, so everything
/// committed before the marker has been heard).
async fn events_until(
    subscription: &mut tasklens_store::LiveSubscription,
    marker: &str,
) -> Vec<tasklens_store::LiveEvent> {
    let mut seen = Vec::new();
    loop {
        let events = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            subscription.recv_events(),
        )
        .await
        .unwrap_or_else(|_| panic!("no event within 10 s; heard {seen:?}"))
        .expect("recv");
        let done = events.iter().any(|e| e.task_id == marker);
        seen.extend(events.into_iter().filter(|e| e.task_id != marker));
        if done {
            return seen;
        }
    }
}

async fn a_new_group_is_announced_once_on_the_run_that_opened_it(backend: Backend) {
    let now = Utc::now();
    let store = store(&backend, now).await;
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    store
        .write_batch(vec![
            failing("old", "score_message", ago(40), "rate limited").finished(),
        ])
        .await
        .expect("write");
    let mut subscription = store.subscribe().await.expect("subscribe");
    // One batch: an existing group failing again, and a new group failing twice.
    let batch = vec![
        failing("a", "score_message", ago(30), "rate limited").finished(),
        failing("b", "embed_atoms_batch", ago(20), "out of memory").finished(),
        failing("c", "embed_atoms_batch", ago(10), "out of memory").finished(),
    ];
    store.write_batch(batch.clone()).await.expect("write");
    // Again, duplicated: no group is new any more.
    store.write_batch(batch).await.expect("write");
    // Two writers race to open the same group: exactly one announces it.
    let (x, y) = (
        failing("x", "send_digest", ago(5), "smtp refused"),
        failing("y", "send_digest", ago(4), "smtp refused"),
    );
    let (other, first, second) = (store.clone(), vec![x.finished()], vec![y.finished()]);
    let (one, two) = tokio::join!(store.write_batch(first), other.write_batch(second));
    one.expect("write");
    two.expect("write");
    store
        .write_batch(vec![Life::new("marker", "score_message", now).pending()])
        .await
        .expect("write");
    let seen = events_until(&mut subscription, "marker").await;
    let announced: Vec<_> = seen
        .iter()
        .filter_map(|e| {
            e.new_error_group
                .as_ref()
                .map(|g| (e.task_name.as_str(), e, g))
        })
        .collect();
    assert_eq!(
        announced.iter().map(|(name, ..)| *name).collect::<Vec<_>>(),
        ["embed_atoms_batch", "send_digest"],
        "each new group once, on the first run that opened it: {seen:?}"
    );
    let groups = window(&store, 1).await;
    for (name, event, group) in announced {
        let stored = groups
            .iter()
            .find(|g| g.group.task_name == name)
            .expect("the announced group is stored");
        assert_eq!(group.id, stored.group.id);
        assert_eq!(group.error_type, stored.group.error_type);
        // The opening batch's first failure; a racing writer may have stored an earlier one.
        assert!(
            group.first_seen >= stored.group.first_seen,
            "{group:?} {stored:?}"
        );
        if name == "embed_atoms_batch" {
            assert_eq!(group.first_seen, stored.group.first_seen);
        }
        assert!(
            ["b", "c", "x", "y"].contains(&event.task_id.as_str()),
            "{event:?}"
        );
    }
}

on_both_backends!(
    a_new_group_is_announced_once_on_the_run_that_opened_it,
    failed_runs_are_grouped_and_counted_once,
    a_resolved_group_failing_again_reopens_as_a_regression,
    a_more_complete_traceback_moves_the_run_to_its_group,
);

/// A bulk import (backfills, the benchmark's data) groups its failed runs like a batch write.
#[sqlx::test(migrations = "../migrations")]
async fn an_import_groups_its_failed_runs(pool: sqlx::PgPool) {
    let now = Utc::now();
    let backend = Backend::postgres(pool.clone());
    let store = store(&backend, now).await;
    let pg = tasklens_store::PgStore::from_pool(pool);
    let lives = [
        failing(
            "a",
            "score_message",
            now - TimeDelta::minutes(30),
            "rate limited",
        ),
        failing(
            "b",
            "score_message",
            now - TimeDelta::minutes(20),
            "rate limited",
        ),
        failing(
            "c",
            "embed_atoms_batch",
            now - TimeDelta::minutes(10),
            "out of memory",
        ),
        Life::new("ok", "score_message", now - TimeDelta::minutes(5)),
    ];
    let ids = pg.reserve_ids(lives.len()).await.expect("ids");
    let runs: Vec<tasklens_store::StoredRun> = lives
        .iter()
        .zip(ids)
        .map(|(life, id)| {
            let state = life.finished().run;
            tasklens_store::StoredRun {
                id,
                created_at: state.started_at.expect("started"),
                updated_at: now,
                state,
            }
        })
        .collect();
    assert_eq!(pg.import_runs(&runs).await.expect("import"), 4);
    let groups = window(&store, 1).await;
    let counts: Vec<_> = groups
        .iter()
        .map(|g| (g.group.task_name.as_str(), g.group.total, g.count))
        .collect();
    assert_eq!(
        counts,
        vec![("embed_atoms_batch", 1, 1), ("score_message", 2, 2)]
    );
    let page = store
        .history(&HistoryQuery {
            error_group: Some(groups[1].group.id),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    let mut task_ids: Vec<_> = page
        .items
        .iter()
        .map(|r| r.state.task_id.as_str())
        .collect();
    task_ids.sort_unstable();
    assert_eq!(task_ids, ["a", "b"]);
}
