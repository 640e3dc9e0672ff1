//! The read folds, shared by every backend: rollup rows and raw rows summed per task type, the
//! lanes of one bucket folded into one point, and sums turned into the numbers the dashboard
//! shows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tasklens_model::{BucketSpan, Contribution, RollupFigures, TaskStatus, WindowPiece};

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
pub struct FiguresByTask(BTreeMap<String, RollupFigures>);

impl FiguresByTask {
    /// Adds a rollup row's figures (one lane of one bucket).
    pub fn add_row(&mut self, task_name: String, figures: &RollupFigures) {
        self.0.entry(task_name).or_default().add(figures);
    }

    /// Adds one raw row.
    pub fn add_run(&mut self, run: &Contribution) {
        match self.0.get_mut(&run.task_name) {
            Some(figures) => figures.apply(run, 1),
            None => self
                .0
                .entry(run.task_name.clone())
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

    pub fn into_map(self) -> BTreeMap<String, RollupFigures> {
        self.0
    }
}

/// Chart points from rollup rows ordered by bucket then task name: the lanes of one (bucket,
/// task type) are summed into one point, and buckets left with no run are dropped.
pub fn timeseries_points(
    rows: impl IntoIterator<Item = (DateTime<Utc>, String, RollupFigures)>,
) -> Vec<TimeseriesPoint> {
    let mut summed: Vec<(DateTime<Utc>, String, RollupFigures)> = Vec::new();
    for (bucket, task_name, figures) in rows {
        match summed.last_mut() {
            Some((b, n, sum)) if *b == bucket && *n == task_name => sum.add(&figures),
            _ => summed.push((bucket, task_name, figures)),
        }
    }
    summed
        .into_iter()
        .filter(|(_, _, figures)| figures.total() > 0)
        .map(|(bucket, task_name, figures)| timeseries_point(bucket, task_name, &figures))
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
pub fn task_metrics(task_name: String, figures: &RollupFigures) -> TaskMetrics {
    let total = figures.total();
    let success = figures.count(TaskStatus::Success);
    TaskMetrics {
        task_name,
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

/// Metrics of every task type with at least one run, by task name.
pub fn all_task_metrics(by_task: BTreeMap<String, RollupFigures>) -> Vec<TaskMetrics> {
    by_task
        .into_iter()
        .filter(|(_, figures)| figures.total() > 0)
        .map(|(name, figures)| task_metrics(name, &figures))
        .collect()
}

/// One chart point.
pub fn timeseries_point(
    bucket: DateTime<Utc>,
    task_name: String,
    figures: &RollupFigures,
) -> TimeseriesPoint {
    TimeseriesPoint {
        bucket,
        task_name,
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
                        task_name: "extract_knowledge_from_messages".into(),
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
        let m = task_metrics("extract_knowledge_from_messages".into(), &figures);
        assert_eq!(m.total_executions, 150);
        assert_eq!((m.pending, m.running, m.success, m.failed), (5, 2, 140, 3));
        assert_eq!(m.success_rate, 93.33);
        assert_eq!(m.avg_duration_ms, Some(1250.0));
        assert_eq!(m.avg_queue_wait_ms, None);
    }

    fn run(task_name: &str, status: TaskStatus, duration_ms: Option<i64>) -> Contribution {
        Contribution {
            task_name: task_name.into(),
            status,
            duration_ms,
            queue_wait_ms: None,
        }
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
            "a".into(),
            &figures_of(&[run("a", TaskStatus::Success, Some(5))]),
        );
        sum.add_row(
            "a".into(),
            &figures_of(&[run("a", TaskStatus::Failed, Some(9))]),
        );
        sum.add_run(&run("b", TaskStatus::Pending, None));
        sum.add_run(&run("a", TaskStatus::Success, Some(7)));
        assert_eq!(sum.count(None), 4);
        assert_eq!(sum.count(Some(TaskStatus::Success)), 2);
        let by_task = sum.into_map();
        assert_eq!(by_task["a"].total(), 3);
        assert_eq!(by_task["a"].duration_sum_ms, 21);
        assert_eq!(by_task["b"].count(TaskStatus::Pending), 1);
    }

    #[test]
    fn the_lanes_of_one_bucket_make_one_point_and_empty_buckets_none() {
        let t = |m: i64| DateTime::from_timestamp(1_800_000_000 + 60 * m, 0).expect("valid");
        let ok = figures_of(&[run("a", TaskStatus::Success, Some(10))]);
        let mut cancelled = ok.clone();
        cancelled.apply(&run("a", TaskStatus::Success, Some(10)), -1);
        let points = timeseries_points(vec![
            (t(0), "a".to_owned(), ok.clone()),
            (t(0), "a".to_owned(), ok.clone()),
            (t(0), "b".to_owned(), ok.clone()),
            (t(1), "a".to_owned(), cancelled),
            (t(2), "a".to_owned(), ok),
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
