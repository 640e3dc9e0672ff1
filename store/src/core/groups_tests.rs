use std::collections::{BTreeMap, HashMap};

use chrono::TimeDelta;
use tasklens_model::{RunKey, SourceSystem, TaskRunEvent};
use uuid::Uuid;

use super::*;
use crate::core::batch::{merge_incoming, plan_batch};
use crate::runs::StoredRun;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_800_000_000_000_000).expect("valid")
}

fn event(task_id: &str, status: TaskStatus, secs: i64) -> TaskRunEvent {
    let key = RunKey {
        source: SourceSystem::Celery,
        task_id: task_id.into(),
        attempt: 0,
    };
    let at = t0() + TimeDelta::seconds(secs);
    TaskRunEvent {
        observed_at: at,
        run: RunState {
            started_at: Some(t0()),
            completed_at: status.is_finished().then_some(at),
            ..RunState::new(key, "score_message", status)
        },
    }
}

fn failed(task_id: &str, secs: i64, message: &str, traceback: Option<&str>) -> TaskRunEvent {
    let mut e = event(task_id, TaskStatus::Failed, secs);
    e.run.error_type = Some("ValueError".into());
    e.run.error_message = Some(message.into());
    e.run.error_traceback = traceback.map(str::to_owned);
    e
}

const FULL_TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/app/tasks/score.py\", \
     line 12, in score\n    raise ValueError(\"bad score\")\nValueError: bad score";

/// What the store holds after some batches: rows, group totals, group rollups, each run's group.
#[derive(Default, Debug, PartialEq)]
struct Store {
    rows: HashMap<Uuid, StoredRun>,
    totals: BTreeMap<Fingerprint, i64>,
    rollups: BTreeMap<(Fingerprint, Granularity, DateTime<Utc>), i64>,
    group_of_run: BTreeMap<String, Option<Fingerprint>>,
    next_id: i64,
}

impl Store {
    fn write(&mut self, events: Vec<TaskRunEvent>) {
        let (incoming, rejected) = merge_incoming(events);
        assert!(rejected.is_empty(), "{rejected:?}");
        let existing = incoming
            .keys()
            .filter_map(|k| self.rows.get(k).map(|r| (*k, r.clone())))
            .collect();
        let next_id = &mut self.next_id;
        let plan = plan_batch(
            incoming,
            existing,
            |_, _| {
                *next_id += 1;
                // Creation at t0 whatever the order, as the run key table makes it.
                Ok((*next_id, t0()))
            },
            t0(),
        )
        .expect("plan");
        for (fp, delta) in &plan.groups.groups {
            *self.totals.entry(fp.clone()).or_default() += delta.total;
        }
        for (fp, granularity, bucket, n) in plan.groups.rollups() {
            *self
                .rollups
                .entry((fp.clone(), granularity, bucket))
                .or_default() += n;
        }
        for (index, group) in &plan.groups.assignments {
            let task_id = plan.changes[*index].run.state.task_id.clone();
            self.group_of_run.insert(task_id, group.clone());
        }
        for change in plan.changes {
            self.rows
                .insert(change.run.state.key().digest(), change.run);
        }
    }

    /// What must not depend on the order: without ids and zero counts.
    fn outcome(&self) -> Outcome {
        (
            nonzero(&self.totals),
            nonzero(&self.rollups),
            self.group_of_run.clone(),
        )
    }
}

type Outcome = (
    Vec<(Fingerprint, i64)>,
    Vec<((Fingerprint, Granularity, DateTime<Utc>), i64)>,
    BTreeMap<String, Option<Fingerprint>>,
);

fn nonzero<K: Clone>(m: &BTreeMap<K, i64>) -> Vec<(K, i64)> {
    m.iter()
        .filter(|(_, n)| **n != 0)
        .map(|(k, n)| (k.clone(), *n))
        .collect()
}

fn permutations(items: &[TaskRunEvent]) -> Vec<Vec<TaskRunEvent>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

#[test]
fn groups_count_each_failed_run_once_whatever_the_order_and_batching() {
    let events = vec![
        event("a", TaskStatus::Running, 0),
        failed("a", 5, "bad score", None),
        failed("a", 6, "bad score", Some(FULL_TRACEBACK)),
        failed("b", 7, "bad score", Some(FULL_TRACEBACK)),
        event("c", TaskStatus::Success, 3),
    ];
    let mut all_at_once = Store::default();
    all_at_once.write(events.clone());
    let expected = all_at_once.outcome();
    // a and b share the full traceback's group: 2 failures there, nowhere else.
    let full = group_of(&failed("a", 6, "bad score", Some(FULL_TRACEBACK)).run).expect("failed");
    assert_eq!(all_at_once.totals.get(&full), Some(&2));
    assert_eq!(all_at_once.group_of_run.get("c"), None);
    for order in permutations(&events) {
        // One event per batch, each event twice (duplicates), and halves.
        let mut one_by_one = Store::default();
        for e in order.iter().chain(order.iter()) {
            one_by_one.write(vec![e.clone()]);
        }
        assert_eq!(one_by_one.outcome(), expected, "one by one: {order:?}");
        let mut halves = Store::default();
        let (left, right) = order.split_at(2);
        halves.write(left.to_vec());
        halves.write(right.to_vec());
        assert_eq!(halves.outcome(), expected, "halves: {order:?}");
    }
}

#[test]
fn a_fingerprint_change_moves_the_count_and_a_duplicate_counts_nothing() {
    let mut store = Store::default();
    store.write(vec![failed("a", 5, "bad score", None)]);
    let short = group_of(&failed("a", 5, "bad score", None).run).expect("failed");
    assert_eq!(store.totals.get(&short), Some(&1));
    store.write(vec![failed("a", 5, "bad score", None)]);
    assert_eq!(
        store.totals.get(&short),
        Some(&1),
        "a duplicate adds nothing"
    );
    store.write(vec![failed("a", 6, "bad score", Some(FULL_TRACEBACK))]);
    let full = group_of(&failed("a", 6, "bad score", Some(FULL_TRACEBACK)).run).expect("failed");
    assert_ne!(short, full);
    assert_eq!(store.totals.get(&short), Some(&0));
    assert_eq!(store.totals.get(&full), Some(&1));
    let hour = Granularity::Hour.floor(t0());
    assert_eq!(
        store.rollups.get(&(short, Granularity::Hour, hour)),
        Some(&0)
    );
    assert_eq!(
        store.rollups.get(&(full, Granularity::Hour, hour)),
        Some(&1)
    );
}

#[test]
fn the_newest_failure_of_a_batch_is_the_groups_latest() {
    let mut changes = GroupChanges::default();
    let older = failed("a", 5, "bad score 1", Some(FULL_TRACEBACK)).run;
    let newer = failed("b", 9, "bad score 2", Some(FULL_TRACEBACK)).run;
    changes.record(0, t0(), None, &newer);
    changes.record(1, t0(), None, &older);
    let (_, delta) = changes.groups.iter().next().expect("one group");
    assert_eq!(delta.total, 2);
    assert_eq!(delta.first_seen, t0() + TimeDelta::seconds(5));
    assert_eq!(delta.last_seen, t0() + TimeDelta::seconds(9));
    let latest = delta.latest.as_ref().expect("latest");
    assert_eq!(latest.message.as_deref(), Some("bad score 2"));
}
