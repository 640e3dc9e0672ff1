//! From summed rollup figures to the numbers the dashboard shows. Shared by every backend.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tasklens_model::{RollupDelta, TaskStatus};

use crate::types::{TaskMetrics, TimeseriesPoint};

fn ratio(sum: i64, count: i64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (count > 0).then(|| sum as f64 / count as f64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Metrics of one task type from the sum of its rollup figures over a window.
pub fn task_metrics(task_name: String, figures: &RollupDelta) -> TaskMetrics {
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
pub fn all_task_metrics(by_task: BTreeMap<String, RollupDelta>) -> Vec<TaskMetrics> {
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
    figures: &RollupDelta,
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
    use tasklens_model::Contribution;

    #[test]
    fn the_seed_example_adds_up() {
        // 150 runs: 5 pending, 2 running, 140 success, 3 failed -> 93.33 % success.
        let mut figures = RollupDelta::default();
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
}
