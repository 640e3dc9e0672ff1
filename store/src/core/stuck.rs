//! Stuck runs among the unfinished ones: each run's age against its task type's threshold
//! ([`StuckThresholds`]), learned from the type's recent figures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tasklens_model::{
    RecentP99, SourceSystem, StuckThresholds, TaskStatus, TaskType, TaskTypeFilter, ThresholdSource,
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

/// The recent p99s per task type, learned from a week of day rollups: they move slowly, so one
/// read serves the stuck checks of the next [`LearnedP99s::REFRESH`].
#[derive(Debug, Default)]
pub(crate) struct LearnedP99s(Mutex<Option<(DateTime<Utc>, Arc<RecentP99s>)>>);

/// The recent p99s per task type.
pub type RecentP99s = HashMap<TaskType, RecentP99>;

impl LearnedP99s {
    pub const REFRESH: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

    /// The p99s learned less than [`Self::REFRESH`] before `now`, if any.
    pub fn fresh(&self, now: DateTime<Utc>) -> Option<Arc<RecentP99s>> {
        let learned = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        learned
            .as_ref()
            .filter(|(at, _)| now - *at < Self::REFRESH && *at <= now)
            .map(|(_, p99s)| Arc::clone(p99s))
    }

    pub fn keep(&self, now: DateTime<Utc>, p99s: Arc<RecentP99s>) {
        let mut learned = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *learned = Some((now, p99s));
    }
}

/// The task type an unfinished run is checked as: its own, or, for a run that does not say its
/// service or environment (a pending run no worker has reported yet), its task name's only
/// task type that does, as metrics count it.
fn resolved_type(run: TaskType, only_typed: &HashMap<&str, Option<&TaskType>>) -> TaskType {
    if !run.service.is_empty() || !run.environment.is_empty() {
        return run;
    }
    match only_typed.get(run.task_name.as_str()) {
        Some(Some(only)) => (*only).clone(),
        _ => run,
    }
}

/// The runs of `in_flight` of the task types `filter` admits that are stuck at `now`, oldest
/// first.
pub fn stuck_among(
    in_flight: Vec<InFlightRun>,
    recent: &HashMap<TaskType, RecentP99>,
    thresholds: &StuckThresholds,
    filter: &TaskTypeFilter,
    now: DateTime<Utc>,
) -> Vec<StuckRun> {
    // Per task name, its one typed task type (None where it has several).
    let mut only_typed: HashMap<&str, Option<&TaskType>> = HashMap::new();
    for task_type in recent.keys() {
        if task_type.service.is_empty() && task_type.environment.is_empty() {
            continue;
        }
        only_typed
            .entry(task_type.task_name.as_str())
            .and_modify(|only| *only = None)
            .or_insert(Some(task_type));
    }
    let mut stuck: Vec<StuckRun> = in_flight
        .into_iter()
        .filter_map(|mut run| {
            run.task_type = resolved_type(run.task_type, &only_typed);
            if !filter.matches(&run.task_type) {
                return None;
            }
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
        let stuck = stuck_among(
            in_flight,
            &recent,
            &thresholds,
            &TaskTypeFilter::default(),
            now,
        );
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

    #[test]
    fn runs_are_checked_and_filtered_as_their_task_type() {
        let now = Utc::now();
        let ago = |minutes| now - TimeDelta::minutes(minutes);
        let typed = |name: &str, service: &str| TaskType::new(name, Some(service), Some("prod"));
        let p99 = |queue_wait_ms: f64| RecentP99 {
            duration_ms: Some(1_000.0),
            queue_wait_ms: Some(queue_wait_ms),
        };
        // `embed` runs in one service, whose queue wait is slow (5 x 4 min = 20 min);
        // `send_email` in two.
        let recent = HashMap::from([
            (typed("embed", "search"), p99(240_000.0)),
            (typed("send_email", "billing"), p99(10.0)),
            (typed("send_email", "signup"), p99(10.0)),
        ]);
        let mut in_flight = vec![
            run(1, "embed", TaskStatus::Pending, ago(10)), // no service yet: search's threshold
            run(2, "embed", TaskStatus::Pending, ago(30)), // stuck as search's
            run(3, "send_email", TaskStatus::Pending, ago(30)), // no service, two candidates
            run(4, "send_email", TaskStatus::Running, ago(30)),
        ];
        in_flight[3].task_type = typed("send_email", "billing");
        let all = |filter: &TaskTypeFilter| {
            stuck_among(
                in_flight.clone(),
                &recent,
                &StuckThresholds::default(),
                filter,
                now,
            )
        };
        let every = all(&TaskTypeFilter::default());
        let seen: Vec<(i64, Option<&str>, i64)> = every
            .iter()
            .map(|s| (s.id, s.service.as_deref(), s.threshold_ms))
            .collect();
        assert_eq!(
            seen,
            [
                (2, Some("search"), 1_200_000),
                (3, None, 300_000),
                (4, Some("billing"), 300_000),
            ]
        );
        let service = |name: &str| TaskTypeFilter {
            service: Some(name.to_owned()),
            ..TaskTypeFilter::default()
        };
        let ids = |stuck: Vec<StuckRun>| stuck.iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(all(&service("search"))), [2]);
        assert_eq!(ids(all(&service("billing"))), [4]);
        assert_eq!(ids(all(&service("signup"))), Vec::<i64>::new());
        assert_eq!(ids(all(&service(""))), [3]);
    }

    #[test]
    fn learned_p99s_are_kept_for_a_minute() {
        let learned = LearnedP99s::default();
        let now = Utc::now();
        assert!(learned.fresh(now).is_none());
        learned.keep(now, Arc::new(HashMap::new()));
        assert!(learned.fresh(now + TimeDelta::seconds(59)).is_some());
        assert!(learned.fresh(now + LearnedP99s::REFRESH).is_none());
        // a clock set back does not keep old figures forever
        assert!(learned.fresh(now - TimeDelta::seconds(1)).is_none());
    }
}
