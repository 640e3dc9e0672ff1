//! The write path: a bounded queue of decoded task-run events in front of a batcher that
//! commits them through the store, one transaction per batch.
//!
//! Architecture Invariant: a submitter hears "committed" only after the transaction holding its
//! events has committed. The queue is bounded in events (not requests); when it is full, new
//! submissions are refused at once so senders back off and memory stays flat.

use std::sync::Arc;
use std::time::Duration;

use tasklens_store::TaskStore;
use tasklens_store::joins::JoinBatch;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::telemetry;

/// Batching and queue limits.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// A batch is written once it holds this many events...
    pub batch_max_events: usize,
    /// ...or once its first event has waited this long for company. Zero (the default) takes
    /// what is queued when a writer is free: under load the writers are busy and submissions
    /// gather while they wait, so batches grow by themselves; at light load a timer would only
    /// add its wait to every answer (BENCHMARKS.md, "Collector").
    pub batch_max_delay: Duration,
    /// Batches being written at once. While one commits the next is already being written, so
    /// a submission does not wait for the batch before it; the store keeps concurrent writers
    /// of one run correct (they lock its key in turn).
    pub batch_writers: usize,
    /// Events accepted but not yet committed, at most: the bound on the queue's memory (about
    /// 1 KB per event). The default is 16 full batches; BENCHMARKS.md has what it costs.
    pub queue_capacity: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_max_events: 2000,
            batch_max_delay: Duration::ZERO,
            batch_writers: 2,
            queue_capacity: 32_000,
        }
    }
}

/// Why a submission was not committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full: retry later.
    #[error("the ingest queue is full")]
    QueueFull,
    /// The database cannot be reached: retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The write failed for another reason.
    #[error("the write failed: {0}")]
    Failed(String),
    /// The collector is shutting down.
    #[error("the collector is shutting down")]
    ShuttingDown,
    /// As many requests as `--ingest-concurrency` allows are being read: retry later.
    #[error("too many requests are being read at once")]
    Busy,
}

impl SubmitError {
    /// Whether the sender should retry.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SubmitError::Failed(_))
    }
}

struct Submission {
    /// Events, with the joins the store resolves in the batch's transaction.
    events: JoinBatch,
    reply: oneshot::Sender<Result<(), SubmitError>>,
    permit: OwnedSemaphorePermit,
}

/// The submitting end; cheap to clone. When every clone is dropped the batcher drains the
/// queue, commits what it holds and stops.
#[derive(Clone)]
pub struct Pipeline {
    sender: mpsc::UnboundedSender<Submission>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("capacity", &self.capacity)
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

/// A read-only view of the queue's fill, for `/readyz`. It holds no sending end, so it does
/// not keep the batcher alive at shutdown.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl QueueGauge {
    /// Events accepted and not yet answered (queued or being written).
    pub fn queued_events(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Pipeline {
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            permits: self.permits.clone(),
            capacity: self.capacity,
        }
    }

    /// Starts the batcher; the handle ends once every `Pipeline` clone is dropped and the
    /// queue is drained.
    /// `committed` is signalled after every commit (the search-backlog folder waits on it).
    pub fn start(
        store: Arc<dyn TaskStore>,
        config: PipelineConfig,
        committed: Arc<Notify>,
    ) -> (Pipeline, JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let capacity = config.queue_capacity.max(1);
        let permits = Arc::new(Semaphore::new(capacity));
        let batcher = tokio::spawn(run_batcher(
            store,
            config,
            receiver,
            permits.clone(),
            capacity,
            committed,
        ));
        (
            Pipeline {
                sender,
                permits,
                capacity,
            },
            batcher,
        )
    }

    /// Whether the queue has room for a request: at least 1% of it (and one event) free. Asked
    /// before a request's body is read, so that a full queue refuses senders without spending
    /// memory and CPU on decoding what it would refuse anyway.
    pub fn has_room(&self) -> bool {
        self.permits.available_permits() >= (self.capacity / 100).max(1)
    }

    /// Queues `events`; the returned [`Committed`] resolves when they are committed. The
    /// channel itself is unbounded; the semaphore bounds what it can hold.
    pub fn enqueue(&self, events: impl Into<JoinBatch>) -> Result<Committed, SubmitError> {
        let events = events.into();
        if events.is_empty() {
            return Ok(Committed(None));
        }
        // A request larger than the whole queue still gets in when the queue is empty.
        let wanted = u32::try_from(events.len().min(self.capacity)).unwrap_or(u32::MAX);
        let permit = self
            .permits
            .clone()
            .try_acquire_many_owned(wanted)
            .map_err(|_| SubmitError::QueueFull)?;
        let (reply, committed) = oneshot::channel();
        self.sender
            .send(Submission {
                events,
                reply,
                permit,
            })
            .map_err(|_| SubmitError::ShuttingDown)?;
        Ok(Committed(Some(committed)))
    }

    /// Queues `events` and waits until they are committed.
    pub async fn submit(&self, events: impl Into<JoinBatch>) -> Result<(), SubmitError> {
        self.enqueue(events)?.wait().await
    }
}

/// Queued events: [`Committed::wait`] ends when the transaction holding them commits or fails.
#[derive(Debug)]
pub struct Committed(Option<oneshot::Receiver<Result<(), SubmitError>>>);

impl Committed {
    pub async fn wait(self) -> Result<(), SubmitError> {
        match self.0 {
            None => Ok(()),
            Some(committed) => committed.await.unwrap_or(Err(SubmitError::ShuttingDown)),
        }
    }
}

async fn run_batcher(
    store: Arc<dyn TaskStore>,
    config: PipelineConfig,
    mut receiver: mpsc::UnboundedReceiver<Submission>,
    permits: Arc<Semaphore>,
    capacity: usize,
    committed: Arc<Notify>,
) {
    let writers = Arc::new(Semaphore::new(config.batch_writers.max(1)));
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        // A batch starts once a writer is free: while all are busy, submissions gather into
        // the next batch instead of waiting in line one by one.
        let Ok(writer) = writers.clone().acquire_owned().await else {
            break;
        };
        let Some(first) = receiver.recv().await else {
            break;
        };
        let deadline = Instant::now() + config.batch_max_delay;
        let mut count = first.events.len();
        let mut batch = vec![first];
        while count < config.batch_max_events {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(next)) => {
                    count += next.events.len();
                    batch.push(next);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let (store, permits, committed) = (store.clone(), permits.clone(), committed.clone());
        in_flight.spawn(async move {
            if write(store.as_ref(), batch, count).await {
                committed.notify_one();
            }
            telemetry::queue_depth(capacity - permits.available_permits());
            drop(writer);
        });
        // Reap finished writes so the set stays as small as the number of writers.
        while in_flight.try_join_next().is_some() {}
    }
    // Drained: every accepted submission is answered before the batcher ends.
    while in_flight.join_next().await.is_some() {}
}

/// Writes one batch and answers its submitters; returns whether it committed.
async fn write(store: &dyn TaskStore, batch: Vec<Submission>, count: usize) -> bool {
    let mut events = JoinBatch::default();
    events.events.reserve(count);
    let mut replies = Vec::with_capacity(batch.len());
    for submission in batch {
        events.extend(submission.events);
        // The permit is released when the reply is sent, below.
        replies.push((submission.reply, submission.permit));
    }
    let started = Instant::now();
    let result = store.write_joined(events).await;
    let outcome = match result {
        Ok(outcome) => {
            telemetry::batch_committed(count, outcome.changed.len(), started.elapsed());
            if !outcome.rejected.is_empty() {
                tracing::warn!(count = outcome.rejected.len(), first = %outcome.rejected[0], "the store refused runs");
            }
            Ok(())
        }
        Err(err) if err.is_transient() => {
            tracing::warn!(error = %err, "batch not written: database unavailable");
            Err(SubmitError::Unavailable(err.to_string()))
        }
        Err(err) => {
            tracing::error!(error = %err, "batch not written");
            Err(SubmitError::Failed(err.to_string()))
        }
    };
    let committed = outcome.is_ok();
    for (reply, permit) in replies {
        let _ = reply.send(outcome.clone());
        drop(permit);
    }
    committed
}
