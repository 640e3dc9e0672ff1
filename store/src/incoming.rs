//! The first step of every batch write, shared by both backends. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tasklens_model::{RuleViolation, RunState, TaskRunEvent};
use uuid::Uuid;

/// A batch's events merged per run, keyed by the run key's digest (so both backends handle runs
/// in the same order), with the earliest time one of them was observed.
pub(crate) type Incoming = BTreeMap<Uuid, (RunState, DateTime<Utc>)>;

/// Validates and caps each event (a refused event is reported alone, the others go on), then
/// merges the batch's own events per run: one row change per run, whatever the batch holds.
pub(crate) fn merge_incoming(events: Vec<TaskRunEvent>) -> (Incoming, Vec<RuleViolation>) {
    let mut rejected = Vec::new();
    let mut incoming = Incoming::new();
    for event in events {
        let event = match event.prepare() {
            Ok(event) => event,
            Err(violation) => {
                rejected.push(violation);
                continue;
            }
        };
        let digest = event.run.key().digest();
        let merged = match incoming.remove(&digest) {
            Some((state, seen)) => (state.merge(event.run), seen.min(event.observed_at)),
            None => (event.run, event.observed_at),
        };
        incoming.insert(digest, merged);
    }
    (incoming, rejected)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use tasklens_model::{RunKey, SourceSystem, TaskStatus};

    use super::*;

    fn event(task_id: &str, status: TaskStatus, at: DateTime<Utc>) -> TaskRunEvent {
        let key = RunKey {
            source: SourceSystem::Celery,
            task_id: task_id.into(),
            attempt: 0,
        };
        TaskRunEvent {
            observed_at: at,
            run: RunState {
                started_at: Some(at),
                ..RunState::new(key, "score_message", status)
            },
        }
    }

    #[test]
    fn a_batch_is_merged_per_run_and_keeps_the_first_sighting() {
        let t0 = DateTime::from_timestamp_micros(1_000_000).expect("valid");
        let t1 = t0 + TimeDelta::seconds(1);
        let bad = TaskRunEvent {
            run: RunState {
                started_at: None,
                ..event("c", TaskStatus::Running, t0).run
            },
            ..event("c", TaskStatus::Running, t0)
        };
        let (incoming, rejected) = merge_incoming(vec![
            event("a", TaskStatus::Running, t1),
            event("b", TaskStatus::Running, t0),
            event("a", TaskStatus::Running, t0),
            bad,
        ]);
        assert_eq!(incoming.len(), 2);
        assert_eq!(rejected.len(), 1);
        let (state, seen) = incoming
            .values()
            .find(|(s, _)| s.task_id == "a")
            .expect("run a");
        assert_eq!(*seen, t0);
        assert_eq!(state.started_at, Some(t0), "the earliest start is kept");
    }
}
