//! What both transports share: admit, authenticate, recognize, queue, wait for the commit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use tasklens_service::TokenCheck;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::pipeline::{Pipeline, SubmitError};
use crate::recognize::{Recognized, Recognizer};
use crate::telemetry;

/// Requests read, decoded and recognized at once by default. Each holds its body and its
/// decoded message, so this (with the size limit) bounds that memory; the queue bounds the rest.
pub const DEFAULT_INGEST_CONCURRENCY: usize = 16;

/// A request's right to be read: taken before its body is read, given back once its events are
/// queued (or it is refused). Cloneable because it travels in request extensions.
#[derive(Debug, Clone)]
pub struct IngestSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// The result of an accepted request: spans that can never be accepted, with their reasons.
#[derive(Debug, Default)]
pub struct Accepted {
    pub rejected: Vec<String>,
}

impl Accepted {
    /// The `partial_success` message: the first few reasons.
    pub fn message(&self) -> String {
        let mut message = self
            .rejected
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if self.rejected.len() > 5 {
            message.push_str(&format!("; and {} more", self.rejected.len() - 5));
        }
        message
    }

    pub fn rejected_count(&self) -> i64 {
        i64::try_from(self.rejected.len()).unwrap_or(i64::MAX)
    }
}

/// Shared by the gRPC and HTTP receivers.
#[derive(Debug)]
pub struct Ingest {
    recognizer: Mutex<Recognizer>,
    pipeline: Pipeline,
    slots: Arc<Semaphore>,
    pub token: TokenCheck,
    /// Told to senders refused for an unavailable database.
    pub retry_after: Duration,
}

impl Ingest {
    pub fn new(
        recognizer: Recognizer,
        pipeline: Pipeline,
        token: TokenCheck,
        retry_after: Duration,
        concurrency: usize,
    ) -> Self {
        Ingest {
            recognizer: Mutex::new(recognizer),
            pipeline,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            token,
            retry_after,
        }
    }

    /// How long a refused sender should wait.
    pub fn retry_delay(&self, error: &SubmitError) -> Duration {
        match error {
            SubmitError::QueueFull | SubmitError::Busy => Duration::from_secs(1),
            _ => self.retry_after,
        }
    }

    /// Recognizes the runs in `request`, which it consumes: the decoded message is gone before
    /// the caller waits for the commit.
    fn recognize<R>(
        &self,
        request: R,
        recognize: impl FnOnce(&mut Recognizer, &R, DateTime<Utc>) -> Recognized,
    ) -> Recognized {
        let recognized = match self.recognizer.lock() {
            Ok(mut recognizer) => recognize(&mut recognizer, &request, Utc::now()),
            // A panic elsewhere cannot corrupt the join cache beyond losing joins.
            Err(poisoned) => recognize(&mut poisoned.into_inner(), &request, Utc::now()),
        };
        for (source, n) in &recognized.spans_by_source {
            telemetry::spans_received(*source, *n);
        }
        telemetry::spans_ignored(recognized.ignored);
        telemetry::spans_rejected(recognized.rejected.len() as u64);
        recognized
    }

    /// Admission, before a request's body is read: refused at once (and counted) when the queue
    /// has no room or every slot is taken, so overload costs neither decoding nor memory.
    pub fn admit(&self) -> Result<IngestSlot, SubmitError> {
        let admitted = if self.pipeline.has_room() {
            self.slots
                .clone()
                .try_acquire_owned()
                .map(|permit| IngestSlot {
                    _permit: Arc::new(permit),
                })
                .map_err(|_| SubmitError::Busy)
        } else {
            Err(SubmitError::QueueFull)
        };
        if let Err(error) = &admitted {
            refused(error);
        }
        admitted
    }

    /// Queues the events, gives the slot back (the request's body and message are gone by now;
    /// the queue holds its events), then waits for the commit.
    async fn submit(
        &self,
        recognized: Recognized,
        slot: Option<IngestSlot>,
    ) -> Result<Accepted, SubmitError> {
        let mut batch = recognized.joins;
        batch.events.extend(recognized.events);
        let queued = self.pipeline.enqueue(batch);
        drop(slot);
        match queued {
            Ok(committed) => committed.wait().await,
            Err(error) => Err(error),
        }
        .map(|()| Accepted {
            rejected: recognized.rejected,
        })
        .inspect_err(refused)
    }

    pub async fn traces(
        &self,
        request: ExportTraceServiceRequest,
        slot: Option<IngestSlot>,
    ) -> Result<Accepted, SubmitError> {
        self.submit(self.recognize(request, Recognizer::traces), slot)
            .await
    }

    pub async fn logs(
        &self,
        request: ExportLogsServiceRequest,
        slot: Option<IngestSlot>,
    ) -> Result<Accepted, SubmitError> {
        self.submit(self.recognize(request, Recognizer::logs), slot)
            .await
    }
}

fn refused(error: &SubmitError) {
    telemetry::request_refused(match error {
        SubmitError::QueueFull => "queue_full",
        SubmitError::Busy => "busy",
        SubmitError::Unavailable(_) | SubmitError::ShuttingDown => "unavailable",
        SubmitError::Failed(_) => "failed",
    });
}
