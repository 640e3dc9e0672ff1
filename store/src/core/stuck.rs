//! Stuck runs among the unfinished ones: each run's age against its task type's threshold
//! ([`StuckThresholds`]), learned from the type's recent figures.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tasklens_model::{
    RecentP99, SourceSystem, StuckThresholds, TaskStatus, TaskType, ThresholdSource,
};

use crate::query::TaskMetrics;

/// An unfinished run as the stuck check reads it: what says how long it has been waiting or
/// running, without the params and error text of a full run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightRun {
    pub id: i64,
    pub task_type: TaskType,
    pub task_id: String,
    pub attempt: i32,
    pub source: SourceSystem,
    pub status: TaskStatus,
    /// When the store first heard of the run.
    pub created_at: DateTime<Utc>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
}

/// An unfinished run past its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StuckRun {
    pub id: i64,
    pub task_name: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub task_id: String,
    pub attempt: i32,
    pub source: SourceSystem,
    pub status: TaskStatus,
    /// Since when it has been in its status: started for a running run, enqueued (or first
    /// heard of) for a pending one.
    pub since: DateTime<Utc>,
    pub age_ms: i64,
    pub threshold_ms: i64,
    pub threshold_source: ThresholdSource,
}

/// The recent p99s per task type, from metrics over the whole days (UTC) that cover
/// [`StuckThresholds::HISTORY`].
pub fn recent_p99s(metrics: &[TaskMetrics]) -> HashMap<TaskType, RecentP99> {
    metrics
        .iter()
        .map(|m| {
            (
                TaskType::new(&m.task_name, m.service.as_deref(), m.environment.as_deref()),
                RecentP99 {
                    duration_ms: m.p99_duration_ms,
                    queue_wait_ms: m.p99_queue_wait_ms,
                },
            )
        })
        .collect()
}

/// The runs of `in_flight` that are stuck at `now`, oldest first.
pub fn stuck_among(
    in_flight: Vec<InFlightRun>,
    recent: &HashMap<TaskType, RecentP99>,
    thresholds: &StuckThresholds,
    now: DateTime<Utc>,
) -> Vec<StuckRun> {
    let mut stuck: Vec<StuckRun> = in_flight
        .into_iter()
        .filter_map(|run| {
            let since = match run.status {
                TaskStatus::Running => run.started_at?,
                TaskStatus::Pending => run.enqueued_at.unwrap_or(run.created_at),
                _ => return None,
            };
            let recent = recent.get(&run.task_type).copied().unwrap_or_default();
            let (threshold, source) =
                thresholds.threshold(&run.task_type.task_name, run.status, recent);
            let threshold_ms = i64::try_from(threshold.as_millis()).unwrap_or(i64::MAX);
            let age_ms = (now - since).num_milliseconds();
            (age_ms > threshold_ms).then(|| StuckRun {
                id: run.id,
                service: run.task_type.service().map(str::to_owned),
                environment: run.task_type.environment().map(str::to_owned),
                task_name: run.task_type.task_name,
                task_id: run.task_id,
                attempt: run.attempt,
                source: run.source,
                status: run.status,
                since,
                age_ms,
                threshold_ms,
                threshold_source: source,
            })
        })
        .collect();
    stuck.sort_by(|a, b| a.since.cmp(&b.since).then(a.id.cmp(&b.id)));
    stuck
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn run(id: i64, task: &str, status: TaskStatus, since: DateTime<Utc>) -> InFlightRun {
        InFlightRun {
            id,
            task_type: TaskType::new(task, None, None),
            task_id: format!("t{id}"),
            attempt: 0,
            source: SourceSystem::Tasklens,
            status,
            created_at: since,
            enqueued_at: Some(since),
            started_at: (status == TaskStatus::Running).then_some(since),
        }
    }

    #[test]
    fn runs_past_their_threshold_are_stuck_oldest_first() {
        let now = Utc::now();
        let ago = |minutes| now - TimeDelta::minutes(minutes);
        let thresholds = StuckThresholds::new(vec!["scheduled_*=15m".parse().expect("rule")]);
        let mut recent = HashMap::new();
        // A slow type: 5 x its 4 min p99 is 20 min.
        recent.insert(
            TaskType::new("embed", None, None),
            RecentP99 {
                duration_ms: Some(240_000.0),
                queue_wait_ms: Some(100.0),
            },
        );
        let in_flight = vec![
            run(1, "embed", TaskStatus::Running, ago(10)), // under 20 min
            run(2, "embed", TaskStatus::Running, ago(30)), // stuck, history
            run(3, "embed", TaskStatus::Pending, ago(6)),  // stuck, floor 5 min
            run(4, "scheduled_digest", TaskStatus::Running, ago(14)), // under 15 min
            run(5, "scheduled_digest", TaskStatus::Pending, ago(16)), // stuck, configured
            run(6, "unknown", TaskStatus::Running, ago(4)), // under the floor
        ];
        let stuck = stuck_among(in_flight, &recent, &thresholds, now);
        let seen: Vec<(i64, ThresholdSource, i64)> = stuck
            .iter()
            .map(|s| (s.id, s.threshold_source, s.threshold_ms))
            .collect();
        assert_eq!(
            seen,
            [
                (2, ThresholdSource::History, 1_200_000),
                (5, ThresholdSource::Configured, 900_000),
                (3, ThresholdSource::Floor, 300_000),
            ]
        );
        assert_eq!(stuck[0].age_ms, 30 * 60_000);
    }
}
