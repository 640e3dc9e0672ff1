//! What the store takes and gives back.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tasklens_model::{Granularity, RuleViolation, RunState, TaskStatus};

/// A run as stored: its merged state plus the store's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub id: i64,
    /// When tasklens first heard of the run; fixes its partition and rollup buckets.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub state: RunState,
}

impl StoredRun {
    pub fn duration_ms(&self) -> Option<i64> {
        self.state.duration_ms()
    }

    pub fn queue_wait_ms(&self) -> Option<i64> {
        self.state.queue_wait_ms()
    }
}

/// A run whose row a batch created or changed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChange {
    pub run: StoredRun,
    /// The status before the batch; `None` for a run the batch created.
    pub previous_status: Option<TaskStatus>,
}

/// The result of [`crate::TaskStore::write_batch`].
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// Runs created or changed, in run-key order. Events that changed nothing (duplicates)
    /// appear nowhere.
    pub changed: Vec<RunChange>,
    /// Events refused, with the rule each broke. They can never be accepted.
    pub rejected: Vec<RuleViolation>,
}

/// Figures of one task type over a window (the seed's metrics contract plus percentiles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskMetrics {
    pub task_name: String,
    pub total_executions: i64,
    pub pending: i64,
    pub running: i64,
    pub success: i64,
    pub failed: i64,
    /// Mean duration of finished runs; `None` when none finished.
    pub avg_duration_ms: Option<f64>,
    /// Percent of all runs that succeeded, two decimals.
    pub success_rate: f64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
    pub p99_duration_ms: Option<f64>,
    pub avg_queue_wait_ms: Option<f64>,
    pub p50_queue_wait_ms: Option<f64>,
    pub p95_queue_wait_ms: Option<f64>,
    pub p99_queue_wait_ms: Option<f64>,
}

/// Filters of the history page. Times apply to `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub task_name: Option<String>,
    pub status: Option<TaskStatus>,
    /// Inclusive.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive.
    pub end: Option<DateTime<Utc>>,
    /// Free text: a task id (exact or prefix) or a part of an error message, case-insensitive.
    pub text: Option<String>,
    /// From 1.
    pub page: u32,
    pub page_size: u32,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            task_name: None,
            status: None,
            start: None,
            end: None,
            text: None,
            page: 1,
            page_size: 50,
        }
    }
}

impl HistoryQuery {
    pub const MAX_PAGE_SIZE: u32 = 200;
    /// A free-text search counts its matches up to this many: counting every match of a common
    /// word over 30 days reads hundreds of thousands of rows, and nobody pages that far.
    pub const TEXT_COUNT_CAP: i64 = 1000;

    /// Checks the arguments; the store refuses a query that fails here.
    pub fn validate(&self) -> Result<(), String> {
        if self.page < 1 {
            return Err("page must be at least 1".into());
        }
        if !(1..=Self::MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(format!(
                "page_size must be between 1 and {}",
                Self::MAX_PAGE_SIZE
            ));
        }
        if let (Some(start), Some(end)) = (self.start, self.end)
            && start > end
        {
            return Err("start must not be after end".into());
        }
        Ok(())
    }
}

/// One page of history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Matching runs. Exact, except for a free-text search with more than
    /// [`HistoryQuery::TEXT_COUNT_CAP`] matches, where it is the cap (see `total_is_exact`).
    pub total_count: i64,
    /// False when `total_count` is the free-text cap: "at least this many".
    pub total_is_exact: bool,
    pub page: u32,
    pub page_size: u32,
    pub items: Vec<StoredRun>,
}

impl HistoryPage {
    /// The page `query` asked for, holding `items`, with the count of all matches.
    pub fn of(query: &HistoryQuery, items: Vec<StoredRun>, total: (i64, bool)) -> Self {
        let (total_count, total_is_exact) = total;
        HistoryPage {
            total_count,
            total_is_exact,
            page: query.page,
            page_size: query.page_size,
            items,
        }
    }

    pub fn total_pages(&self) -> i64 {
        let size = i64::from(self.page_size.max(1));
        (self.total_count + size - 1) / size
    }
}

/// Another attempt of the same task id, in short.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptSummary {
    pub id: i64,
    pub attempt: i32,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
}

/// A run in full with its task id's other attempts (ordered by attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    pub run: StoredRun,
    pub other_attempts: Vec<AttemptSummary>,
}

/// Which buckets a chart reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeseriesQuery {
    pub start: DateTime<Utc>,
    /// Exclusive; `None` for "until now".
    pub end: Option<DateTime<Utc>>,
    pub task_name: Option<String>,
    /// `None`: chosen from the window's length by [`TimeseriesQuery::granularity_for`].
    pub granularity: Option<Granularity>,
}

impl TimeseriesQuery {
    /// Minute buckets up to 6 hours, hour buckets up to 7 days, day buckets beyond: a chart
    /// gets between a few dozen and a few hundred points.
    pub fn granularity_for(window: TimeDelta) -> Granularity {
        if window <= TimeDelta::hours(6) {
            Granularity::Minute
        } else if window <= TimeDelta::days(7) {
            Granularity::Hour
        } else {
            Granularity::Day
        }
    }
}

/// Figures of one task type in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeseriesPoint {
    pub bucket: DateTime<Utc>,
    pub task_name: String,
    pub pending: i64,
    pub running: i64,
    pub success: i64,
    pub failed: i64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
}

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
