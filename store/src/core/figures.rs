//! The read folds, shared by every backend: rollup rows and raw rows summed per task type, the
//! lanes of one bucket folded into one point, and sums turned into the numbers the dashboard
//! shows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tasklens_model::{
    BucketSpan, Contribution, RollupChanges, RollupFigures, RollupKey, TaskStatus, TaskType,
    WindowPiece,
};

use crate::query::{TaskMetrics, TimeseriesPoint};

/// The bucket pieces of a window, which rollup rows answer.
pub fn bucket_spans(pieces: &[WindowPiece]) -> Vec<BucketSpan> {
    pieces
        .iter()
        .filter_map(|p| match p {
            WindowPiece::Buckets(span) => Some(*span),
            WindowPiece::Raw { .. } => None,
        })
        .collect()
}

/// The raw pieces of a window `[from, to)`, which only raw rows answer.
pub fn raw_ranges(pieces: &[WindowPiece]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    pieces
        .iter()
        .filter_map(|p| match *p {
            WindowPiece::Raw { from, to } => Some((from, to)),
            WindowPiece::Buckets(_) => None,
        })
        .collect()
}

/// Figures summed per task type.
#[derive(Debug, Default)]
pub struct FiguresByTask(BTreeMap<TaskType, RollupFigures>);

impl FiguresByTask {
    /// Adds a rollup row's figures (one lane of one bucket).
    pub fn add_row(&mut self, task_type: TaskType, figures: &RollupFigures) {
        self.0.entry(task_type).or_default().add(figures);
    }

    /// Adds one raw row.
    pub fn add_run(&mut self, run: &Contribution) {
        match self.0.get_mut(&run.task_type) {
            Some(figures) => figures.apply(run, 1),
            None => self
                .0
                .entry(run.task_type.clone())
                .or_default()
                .apply(run, 1),
        }
    }

    /// Runs counted, all of them or those in one status.
    pub fn count(&self, status: Option<TaskStatus>) -> i64 {
        self.0
            .values()
            .map(|figures| match status {
                Some(status) => figures.count(status),
                None => figures.total(),
            })
            .sum()
    }

    pub fn into_map(self) -> BTreeMap<TaskType, RollupFigures> {
        self.0
    }
}

/// The rollup rows of some runs, every granularity, from scratch: how a day's rows are rebuilt
/// from its runs (after the rollup key changed).
pub fn rollups_of_runs(
    runs: impl IntoIterator<Item = (DateTime<Utc>, Contribution)>,
) -> Vec<(RollupKey, RollupFigures)> {
    let mut changes = RollupChanges::default();
    for (created_at, run) in runs {
        changes.record(created_at, None, &run);
    }
    changes.into_changes()
}

/// Chart points from rollup rows ordered by bucket then task type: the lanes of one (bucket,
/// task type) are summed into one point, and buckets left with no run are dropped.
pub fn timeseries_points(
    rows: impl IntoIterator<Item = (DateTime<Utc>, TaskType, RollupFigures)>,
) -> Vec<TimeseriesPoint> {
    let mut summed: Vec<(DateTime<Utc>, TaskType, RollupFigures)> = Vec::new();
    for (bucket, task_type, figures) in rows {
        match summed.last_mut() {
            Some((b, t, sum)) if *b == bucket && *t == task_type => sum.add(&figures),
            _ => summed.push((bucket, task_type, figures)),
        }
    }
    summed
        .into_iter()
        .filter(|(_, _, figures)| figures.total() > 0)
        .map(|(bucket, task_type, figures)| timeseries_point(bucket, task_type, &figures))
        .collect()
}

fn ratio(sum: i64, count: i64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (count > 0).then(|| sum as f64 / count as f64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Metrics of one task type from the sum of its rollup figures over a window.
pub fn task_metrics(task_type: TaskType, figures: &RollupFigures) -> TaskMetrics {
    let total = figures.total();
    let success = figures.count(TaskStatus::Success);
    TaskMetrics {
        service: task_type.service().map(str::to_owned),
        environment: task_type.environment().map(str::to_owned),
        task_name: task_type.task_name,
        total_executions: total,
        pending: figures.count(TaskStatus::Pending),
        running: figures.count(TaskStatus::Running),
        success,
        failed: figures.count(TaskStatus::Failed),
        avg_duration_ms: ratio(figures.duration_sum_ms, figures.duration_count).map(round2),
        success_rate: ratio(success * 100, total).map_or(0.0, round2),
        p50_duration_ms: figures.duration_hist.quantile(0.50).map(round2),
        p95_duration_ms: figures.duration_hist.quantile(0.95).map(round2),
        p99_duration_ms: figures.duration_hist.quantile(0.99).map(round2),
        avg_queue_wait_ms: ratio(figures.wait_sum_ms, figures.wait_count).map(round2),
        p50_queue_wait_ms: figures.wait_hist.quantile(0.50).map(round2),
        p95_queue_wait_ms: figures.wait_hist.quantile(0.95).map(round2),
        p99_queue_wait_ms: figures.wait_hist.quantile(0.99).map(round2),
    }
}

/// Metrics of every task type with at least one run, by task name, service and environment.
/// Runs that do not say their service or environment (enqueued, no worker has reported them
/// yet) are counted with their task name's only task type when it has one; beside several,
/// they stay a row of their own.
pub fn all_task_metrics(mut by_task: BTreeMap<TaskType, RollupFigures>) -> Vec<TaskMetrics> {
    // Rollup rows whose runs all moved to another task type are zero: they are no sibling.
    by_task.retain(|_, figures| figures.total() > 0);
    let untyped: Vec<TaskType> = by_task
        .keys()
        .filter(|t| t.service.is_empty() && t.environment.is_empty())
        .cloned()
        .collect();
    for bare in untyped {
        let mut siblings = by_task
            .keys()
            .filter(|t| t.task_name == bare.task_name && **t != bare);
        if let (Some(only), None) = (siblings.next().cloned(), siblings.next())
            && let Some(figures) = by_task.remove(&bare)
            && let Some(sum) = by_task.get_mut(&only)
        {
            sum.add(&figures);
        }
    }
    by_task
        .into_iter()
        .filter(|(_, figures)| figures.total() > 0)
        .map(|(name, figures)| task_metrics(name, &figures))
        .collect()
}

/// One chart point.
pub fn timeseries_point(
    bucket: DateTime<Utc>,
    task_type: TaskType,
    figures: &RollupFigures,
) -> TimeseriesPoint {
    TimeseriesPoint {
        bucket,
        service: task_type.service().map(str::to_owned),
        environment: task_type.environment().map(str::to_owned),
        task_name: task_type.task_name,
        pending: figures.count(TaskStatus::Pending),
        running: figures.count(TaskStatus::Running),
        success: figures.count(TaskStatus::Success),
        failed: figures.count(TaskStatus::Failed),
        p50_duration_ms: figures.duration_hist.quantile(0.50).map(round2),
        p95_duration_ms: figures.duration_hist.quantile(0.95).map(round2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_adds_up() {
        // 150 runs: 5 pending, 2 running, 140 success, 3 failed -> 93.33 % success.
        let mut figures = RollupFigures::default();
        let mut add = |status, n, duration| {
            for _ in 0..n {
                figures.apply(
                    &Contribution {
                        task_type: TaskType::new("extract_knowledge_from_messages", None, None),
                        status,
                        duration_ms: duration,
                        queue_wait_ms: None,
                    },
                    1,
                );
            }
        };
        add(TaskStatus::Pending, 5, None);
        add(TaskStatus::Running, 2, None);
        add(TaskStatus::Success, 140, Some(1250));
        add(TaskStatus::Failed, 3, Some(1250));
        let m = task_metrics(
            TaskType::new("extract_knowledge_from_messages", None, None),
            &figures,
        );
        assert_eq!(m.total_executions, 150);
        assert_eq!((m.pending, m.running, m.success, m.failed), (5, 2, 140, 3));
        assert_eq!(m.success_rate, 93.33);
        assert_eq!(m.avg_duration_ms, Some(1250.0));
        assert_eq!(m.avg_queue_wait_ms, None);
    }

    fn run(task_name: &str, status: TaskStatus, duration_ms: Option<i64>) -> Contribution {
        Contribution {
            task_type: TaskType::new(task_name, None, None),
            status,
            duration_ms,
            queue_wait_ms: None,
        }
    }

    fn ty(name: &str) -> TaskType {
        TaskType::new(name, None, None)
    }

    fn figures_of(runs: &[Contribution]) -> RollupFigures {
        let mut figures = RollupFigures::default();
        for r in runs {
            figures.apply(r, 1);
        }
        figures
    }

    #[test]
    fn rows_and_raw_runs_sum_per_task_type_and_count_by_status() {
        let mut sum = FiguresByTask::default();
        sum.add_row(
            ty("a"),
            &figures_of(&[run("a", TaskStatus::Success, Some(5))]),
        );
        sum.add_row(
            ty("a"),
            &figures_of(&[run("a", TaskStatus::Failed, Some(9))]),
        );
        sum.add_run(&run("b", TaskStatus::Pending, None));
        sum.add_run(&run("a", TaskStatus::Success, Some(7)));
        assert_eq!(sum.count(None), 4);
        assert_eq!(sum.count(Some(TaskStatus::Success)), 2);
        let by_task = sum.into_map();
        assert_eq!(by_task[&ty("a")].total(), 3);
        assert_eq!(by_task[&ty("a")].duration_sum_ms, 21);
        assert_eq!(by_task[&ty("b")].count(TaskStatus::Pending), 1);
    }

    #[test]
    fn runs_without_a_service_join_their_names_only_task_type() {
        let typed = |service: &str| TaskType::new("send_email", Some(service), None);
        let pending = figures_of(&[run("send_email", TaskStatus::Pending, None)]);
        let ok = figures_of(&[run("send_email", TaskStatus::Success, Some(5))]);
        let one = BTreeMap::from([
            (ty("send_email"), pending.clone()),
            (typed("web"), ok.clone()),
        ]);
        let metrics = all_task_metrics(one);
        assert_eq!(metrics.len(), 1);
        assert_eq!((metrics[0].pending, metrics[0].success), (1, 1));
        assert_eq!(metrics[0].service.as_deref(), Some("web"));
        let two = BTreeMap::from([
            (ty("send_email"), pending),
            (typed("web"), ok.clone()),
            (typed("billing"), ok),
        ]);
        assert_eq!(all_task_metrics(two).len(), 3);
    }

    #[test]
    fn the_lanes_of_one_bucket_make_one_point_and_empty_buckets_none() {
        let t = |m: i64| DateTime::from_timestamp(1_800_000_000 + 60 * m, 0).expect("valid");
        let ok = figures_of(&[run("a", TaskStatus::Success, Some(10))]);
        let mut cancelled = ok.clone();
        cancelled.apply(&run("a", TaskStatus::Success, Some(10)), -1);
        let points = timeseries_points(vec![
            (t(0), ty("a"), ok.clone()),
            (t(0), ty("a"), ok.clone()),
            (t(0), ty("b"), ok.clone()),
            (t(1), ty("a"), cancelled),
            (t(2), ty("a"), ok),
        ]);
        let summary: Vec<_> = points
            .iter()
            .map(|p| (p.bucket, p.task_name.as_str(), p.success))
            .collect();
        assert_eq!(
            summary,
            vec![(t(0), "a", 2), (t(0), "b", 1), (t(2), "a", 1)]
        );
    }

    #[test]
    fn a_window_splits_into_bucket_spans_and_raw_edges() {
        let start = DateTime::from_timestamp(1_800_000_030, 0).expect("valid");
        let end = start + chrono::TimeDelta::hours(3);
        let pieces = tasklens_model::window::split(start, Some(end));
        let spans = bucket_spans(&pieces);
        let raw = raw_ranges(&pieces);
        assert!(!spans.is_empty());
        assert_eq!(raw.len(), 2, "{pieces:?}");
        assert_eq!(raw[0].0, start);
        assert_eq!(raw[1].1, end);
        assert_eq!(spans.len() + raw.len(), pieces.len());
    }
}
