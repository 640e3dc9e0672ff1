//! The recognizer's memory across requests: bounded maps that join spans (and log records)
//! exported at different times. Every map holds at most its capacity and forgets the entry
//! inserted longest ago first, so a flood of spans that never join costs bounded memory.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use tasklens_model::RunKey;
use tasklens_model::limits::{MAX_NAME_BYTES, MAX_TEXT_BYTES, cap_text, cap_text_end};

/// A span by its trace id and span id (span ids alone are only unique within a trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SpanRef {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

/// A map of at most `capacity` entries that evicts the oldest insertion first.
///
/// Insertion order is kept in a queue of (key, generation); an entry re-inserted or removed
/// leaves a stale queue item behind, recognized by its generation and skipped. The queue is
/// compacted when stale items outnumber live ones, so it stays within twice the capacity.
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
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

    #[cfg(test)]
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
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

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|(value, _)| value)
    }

    /// Changes the value in place (its age is unchanged), or inserts `make()` if absent.
    pub fn upsert(&mut self, key: K, make: impl FnOnce() -> V, change: impl FnOnce(&mut V)) {
        match self.entries.get_mut(&key) {
            Some((value, _)) => change(value),
            None => self.insert(key, make()),
        }
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
}

/// A TaskIQ producer span (`send`) as the run span that follows it needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProducerFact {
    pub task_id: String,
    pub attempt: i32,
}

/// A run span already recognized, for the error reports that arrive as log records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunFact {
    pub key: RunKey,
    pub task_name: String,
}

/// The error fields of a log record that carries an exception.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ErrorReport {
    pub message: Option<String>,
    pub error_type: Option<String>,
    pub traceback: Option<String>,
}

impl ErrorReport {
    /// Applies the store's size caps now, so a waiting report costs bounded memory and yields
    /// the same values the store would keep.
    pub fn capped(self) -> Self {
        ErrorReport {
            message: self.message.map(|s| cap_text(s, MAX_TEXT_BYTES)),
            error_type: self.error_type.map(|s| cap_text(s, MAX_NAME_BYTES)),
            traceback: self.traceback.map(|s| cap_text_end(s, MAX_TEXT_BYTES)),
        }
    }

    /// Folds another report of the same run with the store's merge rule (the greater of two
    /// known values, field by field), so keeping one folded report is the same as keeping all.
    pub fn fold(&mut self, other: ErrorReport) {
        fn max(a: &mut Option<String>, b: Option<String>) {
            if let Some(b) = b
                && a.as_ref().is_none_or(|a| b > *a)
            {
                *a = Some(b);
            }
        }
        max(&mut self.message, other.message);
        max(&mut self.error_type, other.error_type);
        max(&mut self.traceback, other.traceback);
    }
}

/// Most exception reports kept waiting for their run span.
const WAITING_ERRORS_MAX: usize = 2_000;

/// Everything the recognizer remembers between requests.
#[derive(Debug)]
pub(crate) struct Joins {
    /// TaskIQ producer span -> the task id (message id) and attempt it enqueued.
    pub taskiq_producers: BoundedMap<SpanRef, ProducerFact>,
    /// TaskIQ producer span not seen yet -> the fallback key its run was written under.
    pub taskiq_orphans: BoundedMap<SpanRef, RunKey>,
    /// Run spans recognized -> their run (for log records and Celery retry producers).
    pub runs: BoundedMap<SpanRef, RunFact>,
    /// Error reports whose run span has not arrived yet.
    pub waiting_errors: BoundedMap<SpanRef, ErrorReport>,
}

impl Joins {
    pub fn new(capacity: usize) -> Self {
        Joins {
            taskiq_producers: BoundedMap::new(capacity),
            taskiq_orphans: BoundedMap::new(capacity),
            runs: BoundedMap::new(capacity),
            // A waiting report can hold a capped traceback (64 KB and more): far fewer of them,
            // so a flood of unjoined exception logs costs at most a few hundred MB.
            waiting_errors: BoundedMap::new(capacity.min(WAITING_ERRORS_MAX)),
        }
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
        assert!(map.contains(&2) && map.contains(&3));
    }

    #[test]
    fn the_order_queue_stays_bounded() {
        let mut map = BoundedMap::new(4);
        for round in 0..10_000u32 {
            map.insert(round % 3, round);
            assert!(map.order.len() <= 2 * 4 + 16);
        }
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let mut map = BoundedMap::new(0);
        map.insert(1, 1);
        map.upsert(2, || 2, |v| *v += 1);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn folding_reports_keeps_the_greatest_value_of_each_field() {
        let mut report = ErrorReport {
            message: Some("b".into()),
            error_type: None,
            traceback: Some("z".into()),
        };
        report.fold(ErrorReport {
            message: Some("a".into()),
            error_type: Some("ValueError".into()),
            traceback: None,
        });
        assert_eq!(
            report,
            ErrorReport {
                message: Some("b".into()),
                error_type: Some("ValueError".into()),
                traceback: Some("z".into()),
            }
        );
    }
}
