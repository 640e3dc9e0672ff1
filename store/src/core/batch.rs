//! The batch write's rules, shared by both backends: merge a batch's events per run, then plan
//! the batch against the rows that exist. A backend only reads the existing rows, writes what
//! the plan says and commits.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tasklens_model::{
    Contribution, RollupChanges, RollupFigures, RollupKey, RuleViolation, RunState, TaskRunEvent,
};
use uuid::Uuid;

use crate::core::groups::GroupChanges;
use crate::error::StoreError;
use crate::runs::{RunChange, StoredRun};

/// A batch's events merged per run, keyed by the run key's digest (so both backends handle runs
/// in the same order), with the earliest time one of them was observed.
pub(crate) type Incoming = BTreeMap<Uuid, (RunState, DateTime<Utc>)>;

/// What a batch does to the store.
#[derive(Debug, Default)]
pub(crate) struct BatchPlan {
    /// Runs created or changed, in run-key order. A change without a previous status is a new
    /// row to insert; the others update their row. Duplicates appear nowhere.
    pub changes: Vec<RunChange>,
    /// What to add to each rollup row, in key order (the order rows are locked in).
    pub rollups: Vec<(RollupKey, RollupFigures)>,
    /// What to add to the error groups and their rollups, and each changed run's group.
    pub groups: GroupChanges,
}

impl BatchPlan {
    /// The runs to insert.
    pub fn inserts(&self) -> impl Iterator<Item = &StoredRun> {
        self.changes
            .iter()
            .filter(|c| c.previous_status.is_none())
            .map(|c| &c.run)
    }

    /// The runs whose row to update.
    pub fn updates(&self) -> impl Iterator<Item = &StoredRun> {
        self.changes
            .iter()
            .filter(|c| c.previous_status.is_some())
            .map(|c| &c.run)
    }
}

/// The time a batch stamps on the rows it changes, at the database's precision.
pub(crate) fn batch_time() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// Merges each incoming run into its existing row (`existing`, by run key digest) and plans the
/// batch: the rows to insert and update, the changes to report, the rollup figures to add.
///
/// `place_new` gives a run without a row its id and creation time from its digest and first
/// sighting (an identity the database assigned, or a placeholder id filled in on insert).
pub(crate) fn plan_batch(
    incoming: Incoming,
    mut existing: HashMap<Uuid, StoredRun>,
    mut place_new: impl FnMut(&Uuid, DateTime<Utc>) -> Result<(i64, DateTime<Utc>), StoreError>,
    now: DateTime<Utc>,
) -> Result<BatchPlan, StoreError> {
    let mut rollups = RollupChanges::default();
    let mut changes = Vec::new();
    let mut groups = GroupChanges::default();
    for (digest, (state, first_seen)) in incoming {
        let before = existing.remove(&digest);
        let merged = match &before {
            Some(before) => before.state.clone().merge(state),
            None => state,
        };
        if before.as_ref().is_some_and(|b| b.state == merged) {
            continue; // a duplicate: nothing new
        }
        let (id, created_at) = match &before {
            Some(before) => (before.id, before.created_at),
            None => place_new(&digest, first_seen)?,
        };
        let before_contribution = before.as_ref().map(|b| Contribution::of(&b.state));
        rollups.record(
            created_at,
            before_contribution.as_ref(),
            &Contribution::of(&merged),
        );
        groups.record(
            changes.len(),
            created_at,
            before.as_ref().map(|b| &b.state),
            &merged,
        );
        changes.push(RunChange {
            run: StoredRun {
                id,
                created_at,
                updated_at: now,
                state: merged,
            },
            previous_status: before.map(|b| b.state.status),
        });
    }
    Ok(BatchPlan {
        changes,
        rollups: rollups.into_changes(),
        groups,
    })
}

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

    fn incoming(events: Vec<TaskRunEvent>) -> Incoming {
        let (incoming, rejected) = merge_incoming(events);
        assert!(rejected.is_empty(), "{rejected:?}");
        incoming
    }

    fn stored(id: i64, created_at: DateTime<Utc>, state: RunState) -> StoredRun {
        StoredRun {
            id,
            created_at,
            updated_at: created_at,
            state,
        }
    }

    #[test]
    fn a_plan_inserts_new_runs_updates_changed_ones_and_skips_duplicates() {
        let t0 = DateTime::from_timestamp_micros(1_800_000_000_000_000).expect("valid");
        let t1 = t0 + TimeDelta::seconds(90);
        let now = t1 + TimeDelta::seconds(1);
        let running = |id: &str| event(id, TaskStatus::Running, t0);
        let done = |id: &str| TaskRunEvent {
            run: RunState {
                completed_at: Some(t1),
                ..event(id, TaskStatus::Success, t0).run
            },
            observed_at: t1,
        };
        let digest = |e: &TaskRunEvent| e.run.key().digest();
        // "old" exists and finishes; "same" exists and arrives again unchanged; "new" is new.
        let existing = HashMap::from([
            (digest(&running("old")), stored(7, t0, running("old").run)),
            (digest(&running("same")), stored(8, t0, running("same").run)),
        ]);
        let mut placed = Vec::new();
        let plan = plan_batch(
            incoming(vec![done("old"), running("same"), done("new")]),
            existing,
            |digest, first_seen| {
                placed.push(*digest);
                Ok((42, first_seen))
            },
            now,
        )
        .expect("plan");
        assert_eq!(
            placed,
            vec![digest(&done("new"))],
            "only the new run is placed"
        );
        let inserts: Vec<_> = plan
            .inserts()
            .map(|r| (r.id, r.state.task_id.as_str()))
            .collect();
        let updates: Vec<_> = plan
            .updates()
            .map(|r| (r.id, r.state.task_id.as_str()))
            .collect();
        assert_eq!(inserts, vec![(42, "new")]);
        assert_eq!(updates, vec![(7, "old")]);
        let old = plan.updates().next().expect("old");
        assert_eq!(
            (old.created_at, old.updated_at, old.state.status),
            (t0, now, TaskStatus::Success)
        );
        // Rollups: "old" moves from running to success in its minute; "new" adds a success in
        // the minute of its first sighting.
        let minute: Vec<_> = plan
            .rollups
            .iter()
            .filter(|(key, _)| key.granularity == tasklens_model::Granularity::Minute)
            .map(|(_, figures)| figures.status_counts)
            .collect();
        assert_eq!(minute, vec![[0, -1, 1, 0], [0, 0, 1, 0]]);
    }

    #[test]
    fn a_failure_to_place_a_new_run_fails_the_plan() {
        let t0 = DateTime::from_timestamp_micros(1_800_000_000_000_000).expect("valid");
        let err = plan_batch(
            incoming(vec![event("a", TaskStatus::Running, t0)]),
            HashMap::new(),
            |digest, _| Err(StoreError::Corrupt(format!("no identity for {digest}"))),
            t0,
        )
        .expect_err("refused");
        assert!(err.to_string().contains("no identity"), "{err}");
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
