//! Maintenance takes a PostgreSQL advisory lock so one replica runs it at a time. A maintenance
//! that follows another one in the same process (`tasklens-bench generate` does this per day,
//! `tasklens migrate` then the collector's schedule) must find the lock free: the lock is
//! released before `maintain` returns, not when the server gets round to ending the session.

use sqlx::PgPool;
use tasklens_store::{PgStore, PgStoreOptions, RetentionPolicy, TaskStore};

#[sqlx::test(migrations = "../migrations")]
async fn a_maintenance_right_after_another_is_not_skipped(pool: PgPool) {
    let url = format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().expect("a database")
    );
    let store = PgStore::connect(&url, &PgStoreOptions::default())
        .await
        .expect("connect");
    for round in 0..40 {
        let report = store
            .maintain(&RetentionPolicy::new(30))
            .await
            .expect("maintenance");
        assert!(
            !report.skipped,
            "round {round}: skipped, the previous round's lock was still held"
        );
    }
}
