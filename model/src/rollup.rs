//! Rollups: per task type and time bucket, the figures the dashboard needs, kept so that no
//! metrics query scans the raw rows of its window.
//!
//! A rollup row is the sum of the [`Contribution`]s of the runs created in its bucket. When a run
//! changes, the store adds `contribution(new) - contribution(old)` in the same transaction, so a
//! rollup always equals the figures recomputed from its raw rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::histogram::{Histogram, bin_of};
use crate::run::RunState;
use crate::status::TaskStatus;
use crate::task_type::TaskType;
use crate::window::Granularity;

/// What one run adds to the rollup of its bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    pub task_type: TaskType,
    pub status: TaskStatus,
    /// Duration of a finished run.
    pub duration_ms: Option<i64>,
    pub queue_wait_ms: Option<i64>,
}

impl Contribution {
    pub fn of(run: &RunState) -> Self {
        Contribution {
            task_type: TaskType::of(run),
            status: run.status,
            duration_ms: run.duration_ms(),
            queue_wait_ms: run.queue_wait_ms(),
        }
    }
}

/// Which rollup row a change lands in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub granularity: Granularity,
    pub bucket: DateTime<Utc>,
    pub task_type: TaskType,
}

/// The summed figures of runs: one rollup row, a window's sum of rows, or a change to a row
/// (then counts may be negative).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupFigures {
    /// Runs per status, indexed by [`TaskStatus::index`].
    pub status_counts: [i64; 4],
    pub duration_count: i64,
    pub duration_sum_ms: i64,
    pub duration_hist: Histogram,
    pub wait_count: i64,
    pub wait_sum_ms: i64,
    pub wait_hist: Histogram,
}

impl RollupFigures {
    /// Adds (`sign` = 1) or removes (`sign` = -1) one run's contribution.
    pub fn apply(&mut self, contribution: &Contribution, sign: i64) {
        self.status_counts[contribution.status.index()] += sign;
        if let Some(ms) = contribution.duration_ms {
            self.duration_count += sign;
            self.duration_sum_ms += sign * ms;
            self.duration_hist.add_bin(bin_of(ms), sign);
        }
        if let Some(ms) = contribution.queue_wait_ms {
            self.wait_count += sign;
            self.wait_sum_ms += sign * ms;
            self.wait_hist.add_bin(bin_of(ms), sign);
        }
    }

    pub fn add(&mut self, other: &RollupFigures) {
        for (mine, theirs) in self.status_counts.iter_mut().zip(other.status_counts) {
            *mine += theirs;
        }
        self.duration_count += other.duration_count;
        self.duration_sum_ms += other.duration_sum_ms;
        self.duration_hist.add(&other.duration_hist);
        self.wait_count += other.wait_count;
        self.wait_sum_ms += other.wait_sum_ms;
        self.wait_hist.add(&other.wait_hist);
    }

    pub fn is_zero(&self) -> bool {
        *self == RollupFigures::default()
    }

    pub fn total(&self) -> i64 {
        self.status_counts.iter().sum()
    }

    pub fn count(&self, status: TaskStatus) -> i64 {
        self.status_counts[status.index()]
    }
}

/// Accumulates the rollup changes of a batch, for every granularity.
#[derive(Debug, Default)]
pub struct RollupChanges {
    deltas: BTreeMap<RollupKey, RollupFigures>,
}

impl RollupChanges {
    /// Records that the run created at `created_at` went from `before` (None: it is new) to
    /// `after`.
    pub fn record(
        &mut self,
        created_at: DateTime<Utc>,
        before: Option<&Contribution>,
        after: &Contribution,
    ) {
        if before == Some(after) {
            return;
        }
        for granularity in Granularity::ALL {
            let bucket = granularity.floor(created_at);
            if let Some(before) = before {
                self.entry(granularity, bucket, &before.task_type)
                    .apply(before, -1);
            }
            self.entry(granularity, bucket, &after.task_type)
                .apply(after, 1);
        }
    }

    fn entry(
        &mut self,
        granularity: Granularity,
        bucket: DateTime<Utc>,
        task_type: &TaskType,
    ) -> &mut RollupFigures {
        self.deltas
            .entry(RollupKey {
                granularity,
                bucket,
                task_type: task_type.clone(),
            })
            .or_default()
    }

    /// The non-zero changes, in key order (the order the store locks rollup rows in).
    pub fn into_changes(self) -> Vec<(RollupKey, RollupFigures)> {
        self.deltas
            .into_iter()
            .filter(|(_, delta)| !delta.is_zero())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunKey;
    use crate::status::SourceSystem;
    use chrono::TimeZone;

    fn run(status: TaskStatus) -> RunState {
        let start = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).single();
        let mut state = RunState::new(
            RunKey {
                source: SourceSystem::Tasklens,
                task_id: "a".into(),
                attempt: 0,
            },
            "embed_messages_batch",
            status,
        );
        state.enqueued_at = start;
        state.started_at = start.map(|s| s + chrono::TimeDelta::milliseconds(40));
        if status.is_finished() {
            state.completed_at = start.map(|s| s + chrono::TimeDelta::milliseconds(1040));
        }
        state
    }

    #[test]
    fn a_transition_moves_the_run_between_counters_in_every_granularity() {
        let created = Utc
            .with_ymd_and_hms(2026, 11, 28, 10, 0, 30)
            .single()
            .expect("valid");
        let mut changes = RollupChanges::default();
        let running = Contribution::of(&run(TaskStatus::Running));
        let success = Contribution::of(&run(TaskStatus::Success));
        changes.record(created, None, &running);
        changes.record(created, Some(&running), &success);
        let changes = changes.into_changes();
        assert_eq!(changes.len(), 3);
        for (key, delta) in changes {
            assert_eq!(key.bucket, key.granularity.floor(created));
            assert_eq!(delta.status_counts, [0, 0, 1, 0]);
            assert_eq!(delta.duration_count, 1);
            assert_eq!(delta.duration_sum_ms, 1000);
            assert_eq!(delta.wait_count, 1);
            assert_eq!(delta.wait_sum_ms, 40);
        }
    }

    #[test]
    fn an_unchanged_run_changes_nothing() {
        let mut changes = RollupChanges::default();
        let c = Contribution::of(&run(TaskStatus::Success));
        changes.record(Utc::now(), Some(&c), &c);
        assert!(changes.into_changes().is_empty());
    }

    #[test]
    fn a_run_whose_worker_reports_its_service_moves_to_that_task_type() {
        let created = Utc::now();
        let mut changes = RollupChanges::default();
        let pending = Contribution::of(&run(TaskStatus::Pending));
        let mut ran = run(TaskStatus::Success);
        ran.service_name = Some("worker".into());
        let ran = Contribution::of(&ran);
        changes.record(created, None, &pending);
        changes.record(created, Some(&pending), &ran);
        let changes = changes.into_changes();
        assert_eq!(
            changes.len(),
            3,
            "only the worker's task type keeps a change"
        );
        assert!(
            changes
                .iter()
                .all(|(key, delta)| key.task_type.service == "worker"
                    && delta.status_counts == [0, 0, 1, 0])
        );
    }
}
