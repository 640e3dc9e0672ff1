//! Error groups in the batch: which group each failed run belongs to, and what the batch adds to
//! each group and to its failure rollups. Pure; both backends write what [`GroupChanges`] says.
//!
//! A run's group is the fingerprint of its *merged* state ([`tasklens_model::fingerprint`]), so
//! it converges like the row does, whatever the order of the run's events. Each change of a run
//! moves its one count: a run that becomes failed adds 1 to its group's total and to the
//! group's hour and day rollups (by the run's `created_at`, like the task rollups); a failed run
//! whose merged state fingerprints differently later (say a later event brings a more complete
//! traceback) takes its count from the old group and its rollups and gives it to the new one; a
//! duplicate changes nothing. So a group's total and rollups count the runs whose final state is
//! in it, whatever the order. What is not taken back: the old group's first and last sighting
//! (times a failure was seen there), and the old group itself, which stays with its count at 0
//! (reads skip groups without failures).
//!
//! The group's latest message and traceback are those of the newest failure (by completion
//! time) a batch adds. A new failure in a `resolved` group reopens it as a regression; an
//! `ignored` group stays ignored (the SQL of each backend applies those two rules, they depend
//! on the row's state).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tasklens_model::window::Granularity;
use tasklens_model::{Fingerprint, RunState, TaskStatus, TaskType, fingerprint};

use crate::error_groups::{BucketCount, ErrorGroup, ErrorGroupSummary};
use crate::live::NewErrorGroup;

/// The granularities of the group rollups: hour for windows up to two days, day beyond.
pub(crate) const GROUP_GRANULARITIES: [Granularity; 2] = [Granularity::Hour, Granularity::Day];

/// The failure a group's row shows as its latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Latest {
    pub at: DateTime<Utc>,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub traceback: Option<String>,
}

/// What a batch does to one group's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupDelta {
    pub task_type: TaskType,
    /// Added to the total (negative when runs left the group).
    pub total: i64,
    /// The earliest and latest failures the batch saw in the group.
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The newest failure the batch added, if it added one (then a resolved group reopens).
    pub latest: Option<Latest>,
}

/// A batch's changes to the groups: rows, rollups and each changed run's group.
#[derive(Debug, Default)]
pub(crate) struct GroupChanges {
    /// Per group, in fingerprint order (the order the group rows are locked in).
    pub groups: BTreeMap<Fingerprint, GroupDelta>,
    /// Failures to add per (group, granularity, bucket); zero sums are dropped on the way out.
    rollups: BTreeMap<(Fingerprint, Granularity, DateTime<Utc>), i64>,
    /// Runs whose group changed, by their index in the batch plan's changes: the new group
    /// (None: the run is no longer in one).
    pub assignments: Vec<(usize, Option<Fingerprint>)>,
}

/// The group of a run's state, if it failed.
pub(crate) fn group_of(state: &RunState) -> Option<Fingerprint> {
    (state.status == TaskStatus::Failed).then(|| {
        fingerprint(
            &TaskType::of(state),
            state.error_type.as_deref(),
            state.error_message.as_deref(),
            state.error_traceback.as_deref(),
        )
    })
}

/// When a failure was seen: its completion (a failed row has one), else its creation.
fn seen_at(state: &RunState, created_at: DateTime<Utc>) -> DateTime<Utc> {
    state.completed_at.unwrap_or(created_at)
}

impl GroupChanges {
    /// Records that the run created at `created_at`, change `index` of the plan, went from
    /// `before` (None: new) to `after`.
    pub fn record(
        &mut self,
        index: usize,
        created_at: DateTime<Utc>,
        before: Option<&RunState>,
        after: &RunState,
    ) {
        let old = before.and_then(group_of);
        let new = group_of(after);
        if old == new {
            return;
        }
        if let (Some(old), Some(before)) = (old, before) {
            self.count(old, before, created_at, -1);
        }
        if let Some(new) = &new {
            self.count(new.clone(), after, created_at, 1);
        }
        self.assignments.push((index, new));
    }

    fn count(&mut self, group: Fingerprint, state: &RunState, created_at: DateTime<Utc>, n: i64) {
        let at = seen_at(state, created_at);
        for granularity in GROUP_GRANULARITIES {
            *self
                .rollups
                .entry((group.clone(), granularity, granularity.floor(created_at)))
                .or_default() += n;
        }
        let latest = (n > 0).then(|| Latest {
            at,
            error_type: state.error_type.clone(),
            message: state.error_message.clone(),
            traceback: state.error_traceback.clone(),
        });
        let delta = self.groups.entry(group).or_insert_with(|| GroupDelta {
            task_type: TaskType::of(state),
            total: 0,
            first_seen: at,
            last_seen: at,
            latest: None,
        });
        delta.total += n;
        match (&delta.latest, latest) {
            (_, None) => {}
            (None, Some(latest)) => {
                // The first failure added: the sightings are the added failures' from now on.
                delta.first_seen = at;
                delta.last_seen = at;
                delta.latest = Some(latest);
            }
            (Some(current), Some(latest)) => {
                delta.first_seen = delta.first_seen.min(at);
                delta.last_seen = delta.last_seen.max(at);
                if (latest.at, &latest.message) > (current.at, &current.message) {
                    delta.latest = Some(latest);
                }
            }
        }
    }

    /// The non-zero rollup changes, in key order (the order rows are locked in).
    pub fn rollups(&self) -> impl Iterator<Item = (&Fingerprint, Granularity, DateTime<Utc>, i64)> {
        self.rollups
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((group, granularity, bucket), n)| (group, *granularity, *bucket, *n))
    }
}

/// The rollup granularity of a window's buckets: hours up to two days, days beyond.
pub(crate) fn window_granularity(since: DateTime<Utc>, now: DateTime<Utc>) -> Granularity {
    if now - since <= chrono::TimeDelta::hours(48) {
        Granularity::Hour
    } else {
        Granularity::Day
    }
}

/// The groups seen in a window, each with its failures per bucket from `rows` (group id,
/// bucket, failures, of `granularity`): every bucket from the one holding `since` to the one
/// holding `now`, oldest first. Groups keep their order; those without failures are dropped
/// (a group every run left when their fingerprint changed).
pub(crate) fn summaries(
    groups: Vec<ErrorGroup>,
    rows: &[(i64, DateTime<Utc>, i64)],
    granularity: Granularity,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<ErrorGroupSummary> {
    let first = granularity.floor(since);
    let last = granularity.floor(now).max(first);
    let mut per_group: BTreeMap<(i64, DateTime<Utc>), i64> = BTreeMap::new();
    for (id, bucket, n) in rows {
        *per_group.entry((*id, *bucket)).or_default() += n;
    }
    groups
        .into_iter()
        .filter(|group| group.total > 0)
        .map(|group| {
            let mut buckets = Vec::new();
            let mut bucket = first;
            while bucket <= last {
                let count = per_group.get(&(group.id, bucket)).copied().unwrap_or(0);
                buckets.push(BucketCount { bucket, count });
                bucket += granularity.step();
            }
            ErrorGroupSummary {
                count: buckets.iter().map(|b| b.count).sum(),
                is_new: group.first_seen >= since,
                buckets,
                group,
            }
        })
        .collect()
}

/// The ids the database gave the groups of a batch, by fingerprint, as the group upsert
/// returns them, and whether the upsert created the group (its first failure is in this batch).
#[derive(Debug, Default)]
pub(crate) struct GroupIds(std::collections::HashMap<Fingerprint, (i64, bool)>);

impl GroupIds {
    /// Records one returned row: its fingerprint version and hash, its id, and whether it is new.
    pub(crate) fn insert(
        &mut self,
        version: i64,
        hash: String,
        id: i64,
        created: bool,
    ) -> Result<(), crate::error::StoreError> {
        let version = u16::try_from(version).map_err(|_| {
            crate::error::StoreError::Corrupt(format!("fingerprint version {version}"))
        })?;
        self.0.insert(Fingerprint { version, hash }, (id, created));
        Ok(())
    }

    pub(crate) fn id_of(&self, fp: &Fingerprint) -> Result<i64, crate::error::StoreError> {
        self.0.get(fp).map(|(id, _)| *id).ok_or_else(|| {
            crate::error::StoreError::Corrupt(format!("no id returned for error group {fp}"))
        })
    }
}

impl GroupChanges {
    /// Each change's group to write on its row, by index in the plan's changes: `None` leaves
    /// the row's group as it is; `Some(group)` sets it (`Some(None)`: no group any more).
    pub(crate) fn row_groups(
        &self,
        ids: &GroupIds,
        changes: usize,
    ) -> Result<Vec<Option<Option<i64>>>, crate::error::StoreError> {
        let mut rows = vec![None; changes];
        for (index, group) in &self.assignments {
            let slot = rows.get_mut(*index).ok_or_else(|| {
                crate::error::StoreError::Corrupt(format!("no change {index} in the batch"))
            })?;
            *slot = Some(group.as_ref().map(|fp| ids.id_of(fp)).transpose()?);
        }
        Ok(rows)
    }

    /// The groups this batch created, each announced on the first of the batch's changes that
    /// put a run in it (by index in the plan's changes). The database says which groups it
    /// created, so of two writers racing to create a group exactly one announces it.
    pub(crate) fn new_groups(&self, ids: &GroupIds) -> Vec<(usize, NewErrorGroup)> {
        let mut announced = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (index, group) in &self.assignments {
            let Some(fp) = group else { continue };
            let Some((id, true)) = ids.0.get(fp) else {
                continue;
            };
            if !announced.insert(*id) {
                continue;
            }
            let Some(delta) = self.groups.get(fp) else {
                continue;
            };
            out.push((
                *index,
                NewErrorGroup {
                    id: *id,
                    error_type: delta.latest.as_ref().and_then(|l| l.error_type.clone()),
                    first_seen: delta.first_seen,
                },
            ));
        }
        out
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
