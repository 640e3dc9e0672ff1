//! The interface every part of tasklens uses to read and write task runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklens_model::{StuckThresholds, TaskRunEvent, TaskType, TaskTypeFilter};

use crate::core::joins::JoinBatch;
use crate::core::stuck::{InFlightRun, StuckRun};
use crate::error::StoreError;
use crate::error_groups::{ErrorGroup, ErrorGroupDetail, ErrorGroupState, ErrorGroupSummary};
use crate::live::LiveSubscription;
use crate::maintenance::{MaintenanceReport, RetentionPolicy};
use crate::query::{HistoryPage, HistoryQuery, TaskMetrics, TimeseriesPoint, TimeseriesQuery};
use crate::runs::{RunDetail, WriteOutcome};

/// Most unfinished runs a stuck-run check reads: the oldest ones, which are the first to be
/// stuck. Far more than a healthy system has in flight.
pub const IN_FLIGHT_SCAN: u32 = 10_000;

/// Reads and writes task runs.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Writes a batch of events in one transaction, merging each into its run's row with
    /// [`tasklens_model::RunState::merge`] and updating the rollups in the same transaction.
    /// Events that break a rule are refused one by one (see [`WriteOutcome::rejected`]); the
    /// rest of the batch is written. When this returns `Ok`, the batch is committed.
    async fn write_batch(&self, events: Vec<TaskRunEvent>) -> Result<WriteOutcome, StoreError>;

    /// [`TaskStore::write_batch`] for events that join other spans (exported at other times,
    /// maybe to another collector replica): the joins are resolved against what the store
    /// remembers of those spans in the same transaction, and what they teach is kept with it
    /// (`core/joins.rs`). So a join holds whichever writer got which span, in any order.
    async fn write_joined(&self, batch: JoinBatch) -> Result<WriteOutcome, StoreError>;

    /// Figures per task type for the runs created since `since`, from rollups.
    async fn metrics(
        &self,
        since: DateTime<Utc>,
        filter: &TaskTypeFilter,
    ) -> Result<Vec<TaskMetrics>, StoreError>;

    /// One page of runs, newest first, with the total count of matching runs.
    async fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError>;

    /// Unfinished runs (pending or running), oldest first, at most `limit`.
    async fn in_flight(
        &self,
        task_name: Option<&str>,
        limit: u32,
    ) -> Result<Vec<InFlightRun>, StoreError>;

    /// Unfinished runs past their task type's threshold at `now`, oldest first. Reads the
    /// in-flight runs (at most [`IN_FLIGHT_SCAN`]) and the last week's figures per type.
    async fn stuck_runs(
        &self,
        thresholds: &StuckThresholds,
        filter: &TaskTypeFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<StuckRun>, StoreError>;

    /// One run in full, with the other attempts of its task id.
    async fn run(&self, id: i64) -> Result<Option<RunDetail>, StoreError>;

    /// Throughput by status and duration percentiles per task type and time bucket.
    async fn timeseries(&self, query: &TimeseriesQuery)
    -> Result<Vec<TimeseriesPoint>, StoreError>;

    /// The error groups seen since `since` of the task types `filter` admits, most recently seen
    /// first, each with its failures in the window per bucket (hours for windows up to 48 h,
    /// days beyond), read from the group rollups.
    async fn error_groups(
        &self,
        since: DateTime<Utc>,
        filter: &TaskTypeFilter,
    ) -> Result<Vec<ErrorGroupSummary>, StoreError>;

    /// One error group with its latest runs, newest first; None for an unknown id.
    async fn error_group(&self, id: i64) -> Result<Option<ErrorGroupDetail>, StoreError>;

    /// Sets a group's state by hand (clearing its regression mark); None for an unknown id.
    async fn set_error_group_state(
        &self,
        id: i64,
        state: ErrorGroupState,
    ) -> Result<Option<ErrorGroup>, StoreError>;

    /// The task types with runs, sorted by task name, service and environment.
    async fn task_types(&self, filter: &TaskTypeFilter) -> Result<Vec<TaskType>, StoreError>;

    /// Creates upcoming partitions and removes data older than the retention period. At most one
    /// caller runs it at a time; the others get [`MaintenanceReport::skipped`].
    async fn maintain(&self, policy: &RetentionPolicy) -> Result<MaintenanceReport, StoreError>;

    /// Subscribes to live events: every run change committed from now on (by any process on
    /// PostgreSQL; by this process on an embedded store).
    async fn subscribe(&self) -> Result<LiveSubscription, StoreError>;

    /// Whether the database answers (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Folds the entries that writes left waiting for the free-text indexes into those indexes,
    /// and returns how many pages of waiting entries it folded (0: nothing waited).
    ///
    /// A write only queues these entries, which is cheap; the write that finds the queue full
    /// folds it itself, and its senders wait for that. A writer therefore calls this in the
    /// background after its commits, so that no batch pays for the others' entries. On
    /// PostgreSQL these are the GIN indexes' pending lists; the SQLite backend queues nothing.
    async fn fold_search_backlog(&self) -> Result<u64, StoreError>;
}
