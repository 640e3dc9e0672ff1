//! The join rows of one process, in memory: for the embedded store (one process writes) and
//! for a recognizer that resolves its own joins. Bounded: the spans' runs and the waiting error
//! reports are kept in maps of at most their capacity each, the oldest insertion forgotten
//! first, so a flood of spans that never join costs bounded memory.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use tasklens_model::TaskRunEvent;

use super::joins::{
    ErrorReport, JoinBatch, JoinRow, JoinRows, JoinedRun, SpanRef, WaitingRetry, key_spans,
    resolve, span_refs,
};

/// A map of at most `capacity` entries that evicts the oldest insertion first.
///
/// Insertion order is kept in a queue of (key, generation); an entry re-inserted or removed
/// leaves a stale queue item behind, recognized by its generation and skipped. The queue is
/// compacted when stale items outnumber live ones, so it stays within twice the capacity.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    next_generation: u64,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        BoundedMap {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(value, _)| value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Inserts or replaces; the entry becomes the newest.
    pub fn insert(&mut self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        self.entries.insert(key.clone(), (value, generation));
        self.order.push_back((key, generation));
        while self.entries.len() > self.capacity {
            self.evict_oldest();
        }
        if self.order.len() > 2 * self.capacity + 16 {
            self.compact();
        }
    }

    /// Replaces the value in place (its age unchanged), or inserts it as the newest.
    pub fn set(&mut self, key: K, value: V) {
        match self.entries.get_mut(&key) {
            Some((old, _)) => *old = value,
            None => self.insert(key, value),
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|(value, _)| value)
    }

    fn evict_oldest(&mut self) {
        while let Some((key, generation)) = self.order.pop_front() {
            if self
                .entries
                .get(&key)
                .is_some_and(|(_, g)| *g == generation)
            {
                self.entries.remove(&key);
                return;
            }
        }
    }

    fn compact(&mut self) {
        let entries = &self.entries;
        self.order
            .retain(|(key, generation)| entries.get(key).is_some_and(|(_, g)| g == generation));
    }

    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.order.len()
    }
}

/// Most error reports kept waiting for their run span: one can hold a capped traceback (64 KB
/// and more), so far fewer of them than runs, and a flood of unjoined exception logs costs at
/// most a few hundred MB.
pub const WAITING_ERRORS_MAX: usize = 2_000;

/// Join rows in memory, bounded.
#[derive(Debug)]
pub struct MemoryJoins {
    runs: BoundedMap<SpanRef, (JoinedRun, bool)>,
    waiting: BoundedMap<SpanRef, ErrorReport>,
    /// Celery producers waiting for their parent span (small: a task id, a name, a queue).
    retries: BoundedMap<SpanRef, WaitingRetry>,
}

impl MemoryJoins {
    /// `capacity` bounds the spans remembered with their run; waiting error reports are bounded
    /// by the smaller of it and [`WAITING_ERRORS_MAX`].
    pub fn new(capacity: usize) -> Self {
        MemoryJoins {
            runs: BoundedMap::new(capacity),
            waiting: BoundedMap::new(capacity.min(WAITING_ERRORS_MAX)),
            retries: BoundedMap::new(capacity),
        }
    }

    /// The rows of a batch's spans, as they are now.
    pub fn rows_for(&self, batch: &JoinBatch) -> JoinRows {
        let mut rows = JoinRows::new();
        for span in key_spans(batch).into_iter().chain(span_refs(batch)) {
            let run = self.runs.get(&span);
            let waiting = self.waiting.get(&span);
            let retry = self.retries.get(&span);
            if run.is_some() || waiting.is_some() || retry.is_some() {
                rows.insert(
                    span,
                    JoinRow {
                        run: run.map(|(run, _)| run.clone()),
                        is_run_span: run.is_some_and(|(_, is_run)| *is_run),
                        waiting: waiting.cloned(),
                        waiting_retry: retry.cloned(),
                    },
                );
            }
        }
        rows
    }

    /// Keeps the rows a resolution left (read with [`MemoryJoins::rows_for`]).
    pub fn keep(&mut self, rows: JoinRows) {
        for (span, row) in rows {
            if let Some(run) = row.run {
                let changed = self
                    .runs
                    .get(&span)
                    .is_none_or(|(old, is_run)| *old != run || *is_run != row.is_run_span);
                if changed {
                    self.runs.set(span, (run, row.is_run_span));
                }
            }
            match row.waiting {
                Some(report) => self.waiting.set(span, report),
                None => {
                    self.waiting.remove(&span);
                }
            }
            match row.waiting_retry {
                Some(retry) => self.retries.set(span, retry),
                None => {
                    self.retries.remove(&span);
                }
            }
        }
    }

    /// Resolves a batch against these rows and keeps the result at once.
    pub fn resolve(&mut self, batch: JoinBatch) -> Vec<TaskRunEvent> {
        let mut rows = self.rows_for(&batch);
        let events = resolve(batch, &mut rows);
        self.keep(rows);
        events
    }

    /// Spans remembered with their run.
    pub fn runs_len(&self) -> usize {
        self.runs.len()
    }

    /// Error reports waiting for their run span.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_insertion_is_evicted_first() {
        let mut map = BoundedMap::new(2);
        map.insert(1, "a");
        map.insert(2, "b");
        map.insert(1, "a2"); // refreshed: now the newest
        map.insert(3, "c");
        assert_eq!(map.get(&2), None);
        assert_eq!(map.get(&1), Some(&"a2"));
        assert_eq!(map.get(&3), Some(&"c"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn removed_entries_do_not_confuse_eviction() {
        let mut map = BoundedMap::new(2);
        map.insert(1, 1);
        map.remove(&1);
        map.insert(1, 2);
        map.insert(2, 2);
        map.insert(3, 3);
        assert_eq!(map.get(&1), None);
        assert!(map.get(&2).is_some() && map.get(&3).is_some());
    }

    #[test]
    fn the_order_queue_stays_bounded() {
        let mut map = BoundedMap::new(4);
        for round in 0..10_000u32 {
            map.insert(round % 3, round);
            assert!(map.queued() <= 2 * 4 + 16);
        }
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let mut map = BoundedMap::new(0);
        map.insert(1, 1);
        map.set(2, 2);
        assert_eq!(map.len(), 0);
    }
}
