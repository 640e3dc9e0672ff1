//! Retention and partition upkeep on a schedule, inside the collector service.
//!
//! Every replica runs the schedule; the store's advisory lock lets one of them work at a time,
//! so adding replicas never multiplies the work.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tasklens_store::{MaintenanceReport, RetentionPolicy, TaskStore};

/// How often maintenance runs.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Runs maintenance now and then every `interval` until `shutdown` completes. A failed run is
/// logged and retried at the next tick: the database may be down for a while.
pub async fn run_schedule(
    store: Arc<dyn TaskStore>,
    retention_days: u32,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        let policy = RetentionPolicy::new(retention_days);
        match store.maintain(&policy).await {
            Ok(report) => log_report(&report),
            Err(err) => {
                tracing::warn!(error = %err, "maintenance failed; retrying at the next tick")
            }
        }
    }
}

fn log_report(report: &MaintenanceReport) {
    if report.skipped {
        tracing::debug!("maintenance skipped: another replica holds the lock");
        return;
    }
    tracing::info!(
        created = ?report.partitions_created,
        dropped = ?report.partitions_dropped,
        moved_from_default = report.rows_moved_from_default,
        default_rows_deleted = report.default_rows_deleted,
        run_keys_deleted = report.run_keys_deleted,
        rollup_rows_deleted = report.rollup_rows_deleted,
        "maintenance done"
    );
}
