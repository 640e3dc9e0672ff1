//! How the recognizer hands on what it cannot decide alone: the joins of spans exported at
//! different times (`tasklens_store::joins`). A span is recognized alone, and its event says
//! which other span it depends on ([`Role`]); the joins are resolved in the store, in the
//! transaction that writes the batch, so they hold across collector replicas
//! ([`Joins::InStore`], what the collector does), or here against a bounded memory of this
//! process ([`Joins::Local`], for callers without a store: tests, fixture replays). Both run
//! the same rule.

use tasklens_model::{TaskRunEvent, TaskStatus};
use tasklens_store::joins::{JoinBatch, JoinedEvent, KeyedBy, MemoryJoins};

pub(crate) use tasklens_store::joins::{ErrorReport, LoggedError, SpanRef};

use super::span::Role;

/// What a recognized span's event needs joined (see `tasklens_store::joins`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Nothing: a producer span that says all about its run.
    None,
    /// A run span: error reports logged in it join its run, if it failed (see [`joined`]).
    Run,
    /// A producer span whose run the run spans of its children join (TaskIQ): its key is
    /// recorded for them.
    KeyedProducer,
    /// A run span whose key is the one recorded for its parent span (TaskIQ: the producer),
    /// its own (fallback) key recorded there if none is.
    KeyedRun { parent: SpanRef },
    /// A producer span that may enqueue the retry of the run span `parent` (Celery).
    RetryOf { parent: SpanRef },
}

impl Join {
    /// The join of a span whose recognizer needs none beyond its role.
    pub fn of(role: Role) -> Join {
        match role {
            Role::Producer => Join::None,
            Role::Run => Join::Run,
        }
    }
}

/// Where the joins are resolved.
#[derive(Debug)]
pub(crate) enum Joins {
    /// Here, against this process's memory of at most this many spans (oldest forgotten first).
    Local(Box<MemoryJoins>),
    /// In the store's write transaction.
    InStore,
}

/// The join an event of a span with this role needs, if any.
///
/// Error reports join only a run span that failed: an exception logged in a run that
/// succeeded (or is still running) is not that run's error. So only failed run spans are
/// remembered, which keeps the join rows (written in the batch's transaction) to the few runs
/// that fail; a report waiting for a run span that then succeeds leaves with maintenance.
pub(crate) fn joined(event: TaskRunEvent, join: Join, at: SpanRef) -> JoinedEvent {
    let run_at = (event.run.status == TaskStatus::Failed).then_some(at);
    let plain = JoinedEvent {
        event,
        keyed_by: None,
        run_at: None,
        retry_of: None,
    };
    match join {
        Join::None => plain,
        Join::Run => JoinedEvent { run_at, ..plain },
        Join::KeyedProducer => JoinedEvent {
            keyed_by: Some(KeyedBy {
                span: at,
                own: true,
            }),
            ..plain
        },
        Join::KeyedRun { parent } => JoinedEvent {
            keyed_by: Some(KeyedBy {
                span: parent,
                own: false,
            }),
            run_at,
            ..plain
        },
        Join::RetryOf { parent } => JoinedEvent {
            retry_of: Some(parent),
            ..plain
        },
    }
}

impl Joins {
    /// Resolves a request's joins now (local: the events keep the order of their spans) or
    /// leaves them to the store: the events ready to write, and what the store must join.
    pub fn settle(&mut self, batch: JoinBatch) -> (Vec<TaskRunEvent>, JoinBatch) {
        match self {
            Joins::Local(memory) => (memory.resolve(batch), JoinBatch::default()),
            Joins::InStore => {
                let JoinBatch {
                    mut events,
                    joined,
                    errors,
                } = batch;
                let needs = |j: &JoinedEvent| {
                    j.keyed_by.is_some() || j.run_at.is_some() || j.retry_of.is_some()
                };
                let (joined, plain): (Vec<_>, Vec<_>) = joined.into_iter().partition(needs);
                events.extend(plain.into_iter().map(|j| j.event));
                (
                    events,
                    JoinBatch {
                        events: Vec::new(),
                        joined,
                        errors,
                    },
                )
            }
        }
    }

    #[cfg(test)]
    pub fn memory(&self) -> Option<&MemoryJoins> {
        match self {
            Joins::Local(memory) => Some(memory),
            Joins::InStore => None,
        }
    }
}

/// An error report logged in a span, to join that span's run.
pub(crate) fn logged(
    at: SpanRef,
    report: ErrorReport,
    observed_at: chrono::DateTime<chrono::Utc>,
) -> LoggedError {
    LoggedError {
        at,
        report,
        observed_at,
    }
}
