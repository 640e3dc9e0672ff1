//! What each database provides ([`Backend`]), and the store written once on top of it: every
//! [`Backend`] is a [`TaskStore`], whose reads are planned and folded here with the rules of
//! `core/` and run with the statements of `sql/`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Pool;
use tasklens_model::window::{Granularity, split};
use tasklens_model::{
    RuleViolation, StuckThresholds, TaskRunEvent, TaskType, TaskTypeFilter, WindowPiece,
};

use crate::core::figures::{self, FiguresByTask};
use crate::core::groups;
use crate::core::joins::JoinBatch;
use crate::core::stuck::{self, InFlightRun, LearnedP99s, StuckRun};
use crate::error::StoreError;
use crate::error_groups::{ErrorGroup, ErrorGroupDetail, ErrorGroupState, ErrorGroupSummary};
use crate::live::LiveSubscription;
use crate::maintenance::{MaintenanceReport, RetentionPolicy};
use crate::query::{HistoryPage, HistoryQuery, TaskMetrics, TimeseriesPoint, TimeseriesQuery};
use crate::runs::{RunChange, RunDetail, WriteOutcome};
use crate::sql::{Dialect, groups as group_sql, reads};
use crate::task_store::{IN_FLIGHT_SCAN, TaskStore};

/// One database: its pool and dialect, for the reads written once in `sql/reads.rs`, and what
/// it does its own way. What to ask and how to fold the answers is decided once, in the
/// [`TaskStore`] impl below.
#[async_trait]
pub(crate) trait Backend: Send + Sync {
    type Dialect: Dialect;

    fn pool(&self) -> &Pool<<Self::Dialect as Dialect>::Db>;

    /// The stuck check's learned p99s, read again once they are a minute old.
    fn learned_p99s(&self) -> &LearnedP99s;

    /// Writes a batch's runs in one transaction, its joins resolved first
    /// ([`crate::core::joins`]), then merged ([`crate::core::batch::merge_incoming`]) and
    /// planned against the rows that exist ([`crate::core::batch::plan_batch`]); returns what
    /// changed once committed, and the events refused.
    async fn write_runs(
        &self,
        batch: JoinBatch,
    ) -> Result<(Vec<RunChange>, Vec<RuleViolation>), StoreError>;

    /// A free-text page with its (capped) count: each database searches in its own way.
    async fn text_history(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError>;

    async fn maintain(&self, policy: &RetentionPolicy) -> Result<MaintenanceReport, StoreError>;

    async fn subscribe(&self) -> Result<LiveSubscription, StoreError>;

    async fn fold_search_backlog(&self) -> Result<u64, StoreError>;

    /// Sets an error group's state (a write: SQLite takes its writer lock).
    async fn set_group_state(
        &self,
        id: i64,
        state: ErrorGroupState,
    ) -> Result<Option<ErrorGroup>, StoreError>;
}

/// How many of a group's latest runs its detail shows.
const GROUP_LATEST_RUNS: i64 = 10;

/// Sums, per task type, the figures of the runs created in `pieces`: rollup rows for the
/// bucket pieces, raw rows for the rest.
async fn figures_over<D: Dialect>(
    pool: &Pool<D::Db>,
    pieces: &[WindowPiece],
    filter: &TaskTypeFilter,
) -> Result<FiguresByTask, StoreError> {
    let spans = figures::bucket_spans(pieces);
    let ranges = figures::raw_ranges(pieces);
    // The rollup rows and the raw rows at each edge of the window (a window has two edges at
    // most) are independent reads: run at once on their own connections.
    let rollups = async {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        reads::rollup_rows::<D>(pool, &spans, filter).await
    };
    let edge = |i: usize| {
        let range = ranges.get(i).copied();
        async move {
            match range {
                Some((from, to)) => reads::raw_contributions::<D>(pool, from, to, filter).await,
                None => Ok(Vec::new()),
            }
        }
    };
    let (rows, first, second) = tokio::try_join!(rollups, edge(0), edge(1))?;
    let mut sum = FiguresByTask::default();
    for (task_type, row) in rows {
        sum.add_row(task_type, &row);
    }
    for (_, run) in first.iter().chain(&second) {
        sum.add_run(run);
    }
    for &(from, to) in ranges.iter().skip(2) {
        for (_, run) in reads::raw_contributions::<D>(pool, from, to, filter).await? {
            sum.add_run(&run);
        }
    }
    Ok(sum)
}

#[async_trait]
impl<B: Backend> TaskStore for B {
    async fn write_batch(&self, events: Vec<TaskRunEvent>) -> Result<WriteOutcome, StoreError> {
        self.write_joined(JoinBatch::from(events)).await
    }

    async fn write_joined(&self, batch: JoinBatch) -> Result<WriteOutcome, StoreError> {
        let (changed, rejected) = self.write_runs(batch).await?;
        Ok(WriteOutcome { changed, rejected })
    }

    async fn metrics(
        &self,
        since: DateTime<Utc>,
        filter: &TaskTypeFilter,
    ) -> Result<Vec<TaskMetrics>, StoreError> {
        let sum = figures_over::<B::Dialect>(self.pool(), &split(since, None), filter).await?;
        Ok(figures::all_task_metrics(sum.into_map()))
    }

    async fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        query.validate()?;
        if query.free_text().is_some() {
            return self.text_history(query).await;
        }
        let in_flight = query.status.is_some_and(|s| !s.is_finished());
        if query.error_group.is_some() || in_flight {
            // One group's runs (its rollups know no status) or the few unfinished ones: counted
            // through their own index, at the same time as the page is read.
            let (items, count) = tokio::try_join!(
                reads::history_rows::<B::Dialect>(self.pool(), query),
                reads::history_count::<B::Dialect>(self.pool(), query)
            )?;
            return Ok(HistoryPage::of(query, items, (count, true)));
        }
        let items = reads::history_rows::<B::Dialect>(self.pool(), query).await?;
        // Counted from rollups, plus raw rows at the edges of the range: exact.
        let pieces = split(query.start.unwrap_or(DateTime::UNIX_EPOCH), query.end);
        let sum = figures_over::<B::Dialect>(self.pool(), &pieces, &query.task_type()).await?;
        Ok(HistoryPage::of(
            query,
            items,
            (sum.count(query.status), true),
        ))
    }

    async fn in_flight(
        &self,
        task_name: Option<&str>,
        limit: u32,
    ) -> Result<Vec<InFlightRun>, StoreError> {
        reads::in_flight_rows::<B::Dialect>(self.pool(), task_name, i64::from(limit)).await
    }

    async fn stuck_runs(
        &self,
        thresholds: &StuckThresholds,
        filter: &TaskTypeFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<StuckRun>, StoreError> {
        // The service of a pending run is known only once its type is resolved
        // (`stuck_among`), so the database narrows by task name only.
        let task_name = filter.task_name.as_deref();
        let recent = match self.learned_p99s().fresh(now) {
            Some(recent) => recent,
            None => {
                // Two independent reads on two connections: the answer waits for the slower
                // one only. The learned thresholds read whole days of rollups only (a day's
                // bucket is kept up to date): a threshold needs no minute-exact window, and the
                // read stays a few rows. Every type's, so one read serves every filter.
                let history = split(Granularity::Day.floor(now - StuckThresholds::HISTORY), None);
                let every_type = TaskTypeFilter::default();
                let (in_flight, sum) = tokio::try_join!(
                    self.in_flight(task_name, IN_FLIGHT_SCAN),
                    figures_over::<B::Dialect>(self.pool(), &history, &every_type)
                )?;
                let recent = Arc::new(stuck::recent_p99s(&figures::all_task_metrics(
                    sum.into_map(),
                )));
                self.learned_p99s().keep(now, Arc::clone(&recent));
                return Ok(stuck::stuck_among(
                    in_flight, &recent, thresholds, filter, now,
                ));
            }
        };
        let in_flight = self.in_flight(task_name, IN_FLIGHT_SCAN).await?;
        Ok(stuck::stuck_among(
            in_flight, &recent, thresholds, filter, now,
        ))
    }

    async fn run(&self, id: i64) -> Result<Option<RunDetail>, StoreError> {
        let Some(run) = reads::run_row::<B::Dialect>(self.pool(), id).await? else {
            return Ok(None);
        };
        let other_attempts = reads::other_attempts::<B::Dialect>(self.pool(), &run).await?;
        Ok(Some(RunDetail {
            run,
            other_attempts,
        }))
    }

    async fn timeseries(
        &self,
        query: &TimeseriesQuery,
    ) -> Result<Vec<TimeseriesPoint>, StoreError> {
        let range = query.resolve(Utc::now())?;
        let rows =
            reads::timeseries_rows::<B::Dialect>(self.pool(), &range, &query.task_type).await?;
        Ok(figures::timeseries_points(rows))
    }

    async fn error_groups(
        &self,
        since: DateTime<Utc>,
        filter: &TaskTypeFilter,
    ) -> Result<Vec<ErrorGroupSummary>, StoreError> {
        let now = Utc::now();
        let granularity = groups::window_granularity(since, now);
        // Two independent reads at once; rollups of groups beyond the list's limit are dropped
        // by the fold.
        let (found, rows) = tokio::try_join!(
            group_sql::groups_since::<B::Dialect>(self.pool(), since, filter),
            group_sql::window_rollups::<B::Dialect>(
                self.pool(),
                since,
                filter,
                granularity,
                granularity.floor(since),
            )
        )?;
        Ok(groups::summaries(found, &rows, granularity, since, now))
    }

    async fn error_group(&self, id: i64) -> Result<Option<ErrorGroupDetail>, StoreError> {
        let Some(group) = group_sql::group_by_id::<B::Dialect>(self.pool(), id).await? else {
            return Ok(None);
        };
        let latest_runs =
            group_sql::group_runs::<B::Dialect>(self.pool(), id, GROUP_LATEST_RUNS).await?;
        Ok(Some(ErrorGroupDetail { group, latest_runs }))
    }

    async fn set_error_group_state(
        &self,
        id: i64,
        state: ErrorGroupState,
    ) -> Result<Option<ErrorGroup>, StoreError> {
        self.set_group_state(id, state).await
    }

    async fn task_types(&self, filter: &TaskTypeFilter) -> Result<Vec<TaskType>, StoreError> {
        reads::task_types::<B::Dialect>(self.pool(), filter).await
    }

    async fn maintain(&self, policy: &RetentionPolicy) -> Result<MaintenanceReport, StoreError> {
        Backend::maintain(self, policy).await
    }

    async fn subscribe(&self) -> Result<LiveSubscription, StoreError> {
        Backend::subscribe(self).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping::<B::Dialect>(self.pool()).await
    }

    async fn fold_search_backlog(&self) -> Result<u64, StoreError> {
        Backend::fold_search_backlog(self).await
    }
}
