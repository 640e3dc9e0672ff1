//! Joins of spans exported at different times, possibly to different collector replicas: the
//! rule, written once. The collector recognizes each span alone and says which other span an
//! event depends on; the store resolves that against what it remembers of those spans (a table
//! on PostgreSQL, locked row by row in the batch's transaction; a bounded map in one process),
//! in the transaction that writes the events. So whichever replica receives which span, in
//! whatever order, the second writer sees what the first committed.
//!
//! What is remembered per span ([`JoinRow`]): the run it belongs to (the first one recorded
//! wins: later writers take it), whether it is a run span, and the error report logged in it
//! while its run span was not known yet.
//!
//! - TaskIQ: a producer span records its own run key; a run span (which carries no task id)
//!   takes the key recorded for its parent, recording a fallback key there when none is. Within
//!   one batch a producer's own key wins over fallbacks.
//! - A run span records its run at its own span: an error report logged in it (a log record)
//!   joins that run, now or when the run span arrives.
//! - A Celery producer whose parent is a Celery run span of the same task id enqueues that
//!   run's next attempt. A producer whose parent is not known yet is written as attempt 0, as it
//!   says (most producers with a parent enqueue a first attempt from a web request or another
//!   task), and waits on its parent's row ([`WaitingRetry`]): if that turns out to be a Celery
//!   run span of the same task id, its arrival releases the pending next attempt. Either order
//!   gives the retry's row its enqueue time and queue.
//!
//! Resolution runs in two phases, because the run spans' keys (recorded in phase 2) may be
//! those of their parents (phase 1). Each phase is [`record_keys`] / [`record_spans`] over the
//! rows of its spans; run over rows that do not exist yet, it yields the rows a backend inserts
//! before it reads (see [`key_proposals`], [`span_proposals`]), so that an insert-or-lock gives
//! every writer the committed state of each span.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use tasklens_model::limits::{MAX_NAME_BYTES, MAX_TEXT_BYTES, cap_text, cap_text_end, without_nul};
use tasklens_model::{RunKey, RunState, SourceSystem, TaskRunEvent, TaskStatus};

/// A span by its trace id and span id (span ids alone are only unique within a trace). Ordered
/// as its bytes (trace id, then span id): the order rows are locked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanRef {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

impl SpanRef {
    /// The trace id then the span id: 24 bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(24);
        bytes.extend_from_slice(&self.trace_id);
        bytes.extend_from_slice(&self.span_id);
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<SpanRef> {
        let (trace, span) = (bytes.get(..16)?, bytes.get(16..)?);
        Some(SpanRef {
            trace_id: trace.try_into().ok()?,
            span_id: span.try_into().ok()?,
        })
    }
}

/// The error fields of a log record that carries an exception.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorReport {
    pub message: Option<String>,
    pub error_type: Option<String>,
    pub traceback: Option<String>,
}

impl ErrorReport {
    /// Applies the store's size caps now, NULs replaced first as `RunState::normalized` does, so
    /// a waiting report costs bounded memory, can be written (PostgreSQL stores no NUL in text)
    /// and yields the same values the store would keep: folding waiting reports then agrees with
    /// merging stored ones.
    pub fn capped(self) -> Self {
        ErrorReport {
            message: self
                .message
                .map(|s| cap_text(without_nul(s), MAX_TEXT_BYTES)),
            error_type: self
                .error_type
                .map(|s| cap_text(without_nul(s), MAX_NAME_BYTES)),
            traceback: self
                .traceback
                .map(|s| cap_text_end(without_nul(s), MAX_TEXT_BYTES)),
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

/// What a Celery producer says of the run it enqueues, kept on its parent span's row until
/// that span is known: the pending next attempt if the parent is a run of the same task id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WaitingRetry {
    pub task_id: String,
    pub task_name: String,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub queue: Option<String>,
    pub observed_at: DateTime<Utc>,
}

impl WaitingRetry {
    fn of(event: &TaskRunEvent) -> Self {
        let run = &event.run;
        WaitingRetry {
            task_id: run.task_id.clone(),
            task_name: run.task_name.clone(),
            enqueued_at: run.enqueued_at,
            queue: run.queue.clone(),
            observed_at: event.observed_at,
        }
    }

    /// Folds a redelivered producer of the same parent with the merge rule of the runs (earliest
    /// enqueue, greatest text), so a duplicate changes nothing.
    fn fold(&mut self, other: WaitingRetry) {
        self.task_name = std::cmp::max(std::mem::take(&mut self.task_name), other.task_name);
        self.enqueued_at = match (self.enqueued_at, other.enqueued_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.queue = std::cmp::max(self.queue.take(), other.queue);
        self.observed_at = self.observed_at.max(other.observed_at);
        if other.task_id > self.task_id {
            self.task_id = other.task_id;
        }
    }

    /// The pending event of the parent run's next attempt.
    fn event(self, parent: &RunKey) -> TaskRunEvent {
        let key = RunKey {
            source: SourceSystem::Celery,
            task_id: self.task_id,
            attempt: parent.attempt.saturating_add(1),
        };
        let mut run = RunState::new(key, self.task_name, TaskStatus::Pending);
        run.enqueued_at = self.enqueued_at;
        run.queue = self.queue;
        TaskRunEvent {
            observed_at: self.observed_at,
            run,
        }
    }
}

/// The run a span belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRun {
    pub key: RunKey,
    pub task_name: String,
}

/// What the store remembers of one span. The default is "nothing yet".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinRow {
    /// The run of this span: the first one recorded.
    pub run: Option<JoinedRun>,
    /// Whether the span is that run's own run span (error reports join only those).
    pub is_run_span: bool,
    /// An error report logged in this span before its run span was known (folded).
    pub waiting: Option<ErrorReport>,
    /// A Celery producer under this span that arrived before it.
    pub waiting_retry: Option<WaitingRetry>,
}

/// Whose key an event takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyedBy {
    /// The span whose recorded run the event belongs to.
    pub span: SpanRef,
    /// The event's key is that span's own (a producer span): it wins over fallbacks proposed in
    /// the same batch.
    pub own: bool,
}

/// An event that depends on other spans.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedEvent {
    pub event: TaskRunEvent,
    /// The run is the one recorded for this span; the event's own key is recorded if none is.
    pub keyed_by: Option<KeyedBy>,
    /// The event comes from the run span at this span: error reports logged in it join its run.
    pub run_at: Option<SpanRef>,
    /// A Celery producer: it enqueues the next attempt of the run span at this span (its
    /// parent) when that is a Celery run of the same task id, else attempt 0 as it says.
    pub retry_of: Option<SpanRef>,
}

/// An error report logged in a span.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedError {
    pub at: SpanRef,
    pub report: ErrorReport,
    pub observed_at: DateTime<Utc>,
}

/// What one write is given: events that need no join, events that do, and error reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinBatch {
    pub events: Vec<TaskRunEvent>,
    pub joined: Vec<JoinedEvent>,
    pub errors: Vec<LoggedError>,
}

impl From<Vec<TaskRunEvent>> for JoinBatch {
    fn from(events: Vec<TaskRunEvent>) -> Self {
        JoinBatch {
            events,
            ..JoinBatch::default()
        }
    }
}

impl JoinBatch {
    /// Events and reports held.
    pub fn len(&self) -> usize {
        self.events.len() + self.joined.len() + self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether anything needs a join (else the events are written as they are).
    pub fn has_joins(&self) -> bool {
        !(self.joined.is_empty() && self.errors.is_empty())
    }

    pub fn extend(&mut self, other: JoinBatch) {
        self.events.extend(other.events);
        self.joined.extend(other.joined);
        self.errors.extend(other.errors);
    }
}

/// Rows by span, as a phase reads and changes them (a span without a row: the default row).
pub type JoinRows = BTreeMap<SpanRef, JoinRow>;

/// The spans of phase 1: those whose recorded run gives an event its key.
pub fn key_spans(batch: &JoinBatch) -> BTreeSet<SpanRef> {
    batch
        .joined
        .iter()
        .filter_map(|j| j.keyed_by.map(|k| k.span))
        .collect()
}

/// The spans of phase 2: run spans, spans with error reports, parents of Celery producers.
pub fn span_refs(batch: &JoinBatch) -> BTreeSet<SpanRef> {
    let joined = batch
        .joined
        .iter()
        .flat_map(|j| j.run_at.into_iter().chain(j.retry_of));
    joined.chain(batch.errors.iter().map(|e| e.at)).collect()
}

fn joined_run(state: &RunState) -> JoinedRun {
    JoinedRun {
        key: state.key(),
        task_name: state.task_name.clone(),
    }
}

/// Phase 1 on the rows: records each keyed event's own key where no run is recorded yet, the
/// producers' own keys first.
pub fn record_keys(batch: &JoinBatch, rows: &mut JoinRows) {
    for own in [true, false] {
        for joined in &batch.joined {
            if let Some(keyed) = joined.keyed_by.filter(|k| k.own == own) {
                let row = rows.entry(keyed.span).or_default();
                if row.run.is_none() {
                    row.run = Some(joined_run(&joined.event.run));
                }
            }
        }
    }
}

/// Phase 1 on the events: each keyed event takes the run recorded for its span (call after
/// [`record_keys`] on the same rows).
pub fn apply_keys(batch: &mut JoinBatch, rows: &JoinRows) {
    for joined in &mut batch.joined {
        let Some(keyed) = joined.keyed_by else {
            continue;
        };
        if let Some(run) = rows.get(&keyed.span).and_then(|row| row.run.as_ref()) {
            let state = &mut joined.event.run;
            state.source = run.key.source;
            state.task_id.clone_from(&run.key.task_id);
            state.attempt = run.key.attempt;
        }
    }
}

/// The rows phase 1 would write if none of its spans had a row yet.
pub fn key_proposals(batch: &JoinBatch) -> JoinRows {
    let mut rows = JoinRows::new();
    record_keys(batch, &mut rows);
    rows
}

/// What phase 2 decided for the events.
#[derive(Debug, Default)]
pub struct SpanOutcome {
    /// Error events of reports that met their run.
    pub errors: Vec<TaskRunEvent>,
    /// (index in `joined`, attempt): Celery producers found to enqueue a retry.
    pub retries: Vec<(usize, i32)>,
    /// The pending next attempts of run spans whose retry producer arrived before them.
    pub released_retries: Vec<TaskRunEvent>,
}

/// The event that attaches an error report to a known run without touching its status: status
/// `pending`, the lowest, which the merge never lets win.
pub fn error_event(
    run: &JoinedRun,
    report: ErrorReport,
    observed_at: DateTime<Utc>,
) -> TaskRunEvent {
    let mut state = RunState::new(run.key.clone(), run.task_name.clone(), TaskStatus::Pending);
    state.error_message = report.message;
    state.error_type = report.error_type;
    state.error_traceback = report.traceback;
    TaskRunEvent {
        observed_at,
        run: state,
    }
}

/// Phase 2 on the rows (call after phase 1 set the events' keys): run spans record their run
/// and release the report waiting for them; reports join their run span or wait for it (a
/// report already joined is not kept); Celery producers read their parent's run.
pub fn record_spans(batch: &JoinBatch, rows: &mut JoinRows) -> SpanOutcome {
    let mut outcome = SpanOutcome::default();
    for joined in &batch.joined {
        let Some(at) = joined.run_at else {
            continue;
        };
        let row = rows.entry(at).or_default();
        let run = row.run.get_or_insert_with(|| joined_run(&joined.event.run));
        row.is_run_span = true;
        if let Some(report) = row.waiting.take() {
            let event = error_event(run, report, joined.event.observed_at);
            outcome.errors.push(event);
        }
        if let Some(retry) = row.waiting_retry.take()
            && run.key.source == SourceSystem::Celery
            && run.key.task_id == retry.task_id
        {
            outcome.released_retries.push(retry.event(&run.key));
        }
    }
    for logged in &batch.errors {
        let row = rows.entry(logged.at).or_default();
        match (&row.run, row.is_run_span) {
            (Some(run), true) => {
                let event = error_event(run, logged.report.clone(), logged.observed_at);
                outcome.errors.push(event);
            }
            _ => match &mut row.waiting {
                Some(waiting) => waiting.fold(logged.report.clone()),
                None => row.waiting = Some(logged.report.clone()),
            },
        }
    }
    for (index, joined) in batch.joined.iter().enumerate() {
        let Some(parent) = joined.retry_of else {
            continue;
        };
        let row = rows.entry(parent).or_default();
        let state = &joined.event.run;
        if state.source != SourceSystem::Celery {
            continue;
        }
        match (&row.run, row.is_run_span) {
            (Some(run), true) => {
                if run.key.source == SourceSystem::Celery && run.key.task_id == state.task_id {
                    outcome
                        .retries
                        .push((index, run.key.attempt.saturating_add(1)));
                }
            }
            _ => {
                let retry = WaitingRetry::of(&joined.event);
                match &mut row.waiting_retry {
                    Some(waiting) => waiting.fold(retry),
                    None => row.waiting_retry = Some(retry),
                }
            }
        }
    }
    outcome
}

/// The rows phase 2 would write if none of its spans had a row yet (given the events' keys
/// after phase 1). A Celery producer's parent gets an empty row: inserting it is what makes a
/// concurrent writer of that run span wait for this transaction, and this one for it.
pub fn span_proposals(batch: &JoinBatch) -> JoinRows {
    let mut rows = JoinRows::new();
    record_spans(batch, &mut rows);
    rows
}

/// The events of a batch once phase 2 decided: the plain ones, the joined ones (retries given
/// their attempt), and the error events.
pub fn finish(batch: JoinBatch, outcome: SpanOutcome) -> Vec<TaskRunEvent> {
    let JoinBatch {
        mut events, joined, ..
    } = batch;
    let mut joined: Vec<TaskRunEvent> = joined.into_iter().map(|j| j.event).collect();
    for (index, attempt) in outcome.retries {
        if let Some(event) = joined.get_mut(index) {
            event.run.attempt = attempt;
        }
    }
    events.reserve(joined.len() + outcome.errors.len() + outcome.released_retries.len());
    events.extend(joined);
    events.extend(outcome.errors);
    events.extend(outcome.released_retries);
    events
}

/// Both phases over rows that are all at hand (one process's memory): the batch's events with
/// their joins resolved. `rows` must hold every row of [`key_spans`] and [`span_refs`] that
/// exists; it is left with their new state.
pub fn resolve(mut batch: JoinBatch, rows: &mut JoinRows) -> Vec<TaskRunEvent> {
    record_keys(&batch, rows);
    apply_keys(&mut batch, rows);
    let outcome = record_spans(&batch, rows);
    finish(batch, outcome)
}

#[cfg(test)]
#[path = "joins_tests.rs"]
mod tests;
