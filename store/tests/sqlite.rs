//! What only the embedded backend has: a file that outlives the process, retention in bounded
//! batches, one writer shared by many concurrent callers.

mod common;

use chrono::{TimeDelta, Utc};
use common::{Backend, Life, all_runs, base_time, store};
use tasklens_model::TaskStatus;
use tasklens_model::TaskTypeFilter;
use tasklens_store::{RetentionPolicy, SqliteStore, SqliteStoreOptions, StoreError, TaskStore};

#[tokio::test]
async fn reopening_the_file_keeps_the_data() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The directory does not exist yet: opening creates it.
    let path = dir.path().join("data").join("nested").join("tasklens.db");
    let now = Utc::now();
    let (ids, metrics) = {
        let store = SqliteStore::open(&path).await.expect("open");
        let lives: Vec<Life> = (0..5)
            .map(|i| Life {
                failure: (i == 0).then(|| "boom".to_string()),
                ..Life::new(&format!("keep-{i}"), "score_message", now)
            })
            .collect();
        let outcome = store
            .write_batch(lives.iter().flat_map(Life::all).collect())
            .await
            .expect("write");
        let ids: Vec<i64> = outcome.changed.iter().map(|c| c.run.id).collect();
        let metrics = store
            .metrics(now - TimeDelta::hours(1), &TaskTypeFilter::default())
            .await
            .expect("metrics");
        store.close().await;
        (ids, metrics)
    };
    assert!(path.exists());

    let store = SqliteStore::open(&path)
        .await
        .expect("reopen (migrations already applied)");
    store.ping().await.expect("ping");
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 5);
    assert_eq!(
        store
            .metrics(now - TimeDelta::hours(1), &TaskTypeFilter::default())
            .await
            .expect("metrics"),
        metrics
    );
    let detail = store.run(ids[0]).await.expect("read").expect("kept");
    assert!(detail.run.state.status.is_finished());
    // A late duplicate still merges into the kept row; a new run gets a new id.
    let again = Life::new("keep-1", "score_message", now);
    assert!(
        store
            .write_batch(again.all())
            .await
            .expect("write")
            .changed
            .is_empty()
    );
    let new = store
        .write_batch(Life::new("new", "score_message", now).all())
        .await
        .expect("write");
    assert!(new.changed[0].run.id > *ids.iter().max().expect("ids"));
}

#[tokio::test]
async fn opening_a_path_that_cannot_be_a_database_says_where() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A directory where the file should be.
    let err = SqliteStore::open(dir.path()).await.expect_err("refused");
    assert!(
        matches!(&err, StoreError::Open { path, .. } if path == &dir.path().display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn retention_deletes_in_batches_until_every_expired_run_is_gone() {
    let batch = 100;
    let backend = Backend::sqlite_with(&SqliteStoreOptions {
        retention_batch_rows: batch,
        ..SqliteStoreOptions::default()
    })
    .await;
    let now = base_time();
    let store = store(&backend, now).await;
    // 1,050 expired runs over three old days (more than ten batches, the last one partial),
    // 30 recent ones.
    let expired: u32 = 1_050;
    let events = (0..expired)
        .flat_map(|i| {
            Life::new(
                &format!("old-{i}"),
                "embed_messages_batch",
                now - TimeDelta::days(40 + i64::from(i % 3)),
            )
            .all()
        })
        .collect();
    store.write_batch(events).await.expect("write");
    let recent: Vec<_> = (0..30)
        .flat_map(|i| {
            Life::new(
                &format!("new-{i}"),
                "embed_messages_batch",
                now - TimeDelta::hours(i),
            )
            .all()
        })
        .collect();
    store.write_batch(recent).await.expect("write");

    let report = store
        .maintain(&RetentionPolicy {
            now,
            ..RetentionPolicy::new(30)
        })
        .await
        .expect("maintain");
    assert!(!report.skipped);
    assert_eq!(report.run_keys_deleted, u64::from(expired));
    // Three old days, minute + hour + day rows each: at least nine rollup rows left.
    assert!(report.rollup_rows_deleted >= 9, "{report:?}");
    let left = all_runs(&store).await;
    assert_eq!(left.len(), 30);
    assert!(left.iter().all(|r| r.state.task_id.starts_with("new-")));
    let metrics = store
        .metrics(now - TimeDelta::days(60), &TaskTypeFilter::default())
        .await
        .expect("metrics");
    assert_eq!(metrics[0].total_executions, 30);
    assert_eq!(metrics[0].success, 30);

    // Nothing left to delete: a second pass removes nothing.
    let again = store
        .maintain(&RetentionPolicy {
            now,
            ..RetentionPolicy::new(30)
        })
        .await
        .expect("maintain");
    assert_eq!((again.run_keys_deleted, again.rollup_rows_deleted), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_take_turns_without_busy_errors() {
    let backend = Backend::sqlite().await;
    let now = Utc::now();
    let store = store(&backend, now).await;
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for b in 0..10 {
                let lives: Vec<Life> = (0..20)
                    .map(|i| Life::new(&format!("w{w}-b{b}-{i}"), "score_message", now))
                    .collect();
                store
                    .write_batch(lives.iter().flat_map(Life::all).collect())
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    // Readers meanwhile.
    for _ in 0..20 {
        store
            .metrics(now - TimeDelta::hours(1), &TaskTypeFilter::default())
            .await
            .expect("metrics");
    }
    for writer in writers {
        writer.await.expect("join").expect("no writer fails");
    }
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 8 * 10 * 20);
    assert!(runs.iter().all(|r| r.state.status == TaskStatus::Success));
}
