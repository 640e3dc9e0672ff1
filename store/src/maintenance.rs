//! What maintenance is told, what it reports, and what the store occupies.

use chrono::{DateTime, TimeDelta, Utc};
use tasklens_model::Granularity;

/// What maintenance keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Data older than this many days leaves.
    pub retention_days: u32,
    /// Partitions are created this many days ahead of today.
    pub days_ahead: u32,
    /// "Now" (a parameter so tests can move time).
    pub now: DateTime<Utc>,
}

impl RetentionPolicy {
    pub const DEFAULT_RETENTION_DAYS: u32 = 30;
    pub const DEFAULT_DAYS_AHEAD: u32 = 3;

    pub fn new(retention_days: u32) -> Self {
        RetentionPolicy {
            retention_days,
            days_ahead: Self::DEFAULT_DAYS_AHEAD,
            now: Utc::now(),
        }
    }

    /// Everything created before this instant (a day boundary) leaves.
    pub fn cutoff(&self) -> DateTime<Utc> {
        Granularity::Day.floor(self.now - TimeDelta::days(i64::from(self.retention_days)))
    }
}

/// What one maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Another replica held the maintenance lock: nothing was done.
    pub skipped: bool,
    pub partitions_created: Vec<String>,
    pub partitions_dropped: Vec<String>,
    /// Rows moved out of the default partition into a new partition.
    pub rows_moved_from_default: u64,
    /// Expired rows deleted from the default partition.
    pub default_rows_deleted: u64,
    pub run_keys_deleted: u64,
    /// Expired join rows (`task_span_joins`: spans remembered for joins across replicas).
    pub span_joins_deleted: u64,
    pub rollup_rows_deleted: u64,
    /// Partitions whose planner statistics were refreshed (yesterday's, once its day is over).
    pub partitions_analyzed: Vec<String>,
}

/// Disk used by the store (tables with their TOAST, and indexes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageStats {
    pub runs: i64,
    /// Heap and TOAST of every run partition.
    pub run_table_bytes: i64,
    /// Every index of every run partition.
    pub run_index_bytes: i64,
    /// The run identity table with its indexes.
    pub key_bytes: i64,
    pub rollup_bytes: i64,
    pub rollup_rows: i64,
}

impl StorageStats {
    /// Everything the store keeps, divided by the number of runs.
    pub fn bytes_per_run(&self) -> f64 {
        let total =
            self.run_table_bytes + self.run_index_bytes + self.key_bytes + self.rollup_bytes;
        #[allow(clippy::cast_precision_loss)]
        if self.runs == 0 {
            0.0
        } else {
            total as f64 / self.runs as f64
        }
    }
}
