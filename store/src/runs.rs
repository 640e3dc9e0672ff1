//! Runs as the store keeps and returns them.

use chrono::{DateTime, Utc};
use tasklens_model::{RuleViolation, RunState, TaskStatus};

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
