//! Folds the free-text indexes' waiting entries in the background, after commits.
//!
//! A batch's write only queues its runs' entries for the free-text indexes; when that queue is
//! full, the write that finds it so folds all of it, and that batch's senders wait for it
//! (BENCHMARKS.md, "Collector"). This task folds the queue after commits instead (at most
//! once per [`FOLD_PAUSE`]), so a batch pays for its own rows only.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tasklens_store::TaskStore;
use tokio::sync::Notify;

use crate::telemetry;

/// Pause after each fold: folding a larger list at once costs less CPU per entry than folding
/// after every batch, and what arrives in this time stays well under the store's pending-list
/// limit (16 MB) even at full speed.
pub const FOLD_PAUSE: Duration = Duration::from_millis(200);

/// Folds after a signal of `committed`, at most once per [`FOLD_PAUSE`], until `shutdown`
/// completes. Signals that arrive meanwhile collapse into one more fold; while nothing is
/// written it stays idle.
pub async fn run_folder(
    store: Arc<dyn TaskStore>,
    committed: Arc<Notify>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut failing = false;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = committed.notified() => {}
        }
        match store.fold_search_backlog().await {
            Ok(pages) => {
                telemetry::search_backlog_folded(pages);
                failing = false;
            }
            // Not fatal: the writes fold the backlog themselves meanwhile. Said once per streak
            // of failures, not once per batch.
            Err(err) if !failing => {
                tracing::warn!(error = %err, "cannot fold the free-text index backlog; writes fold it themselves meanwhile");
                failing = true;
            }
            Err(err) => {
                tracing::debug!(error = %err, "folding the free-text index backlog failed again")
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(FOLD_PAUSE) => {}
        }
    }
}
