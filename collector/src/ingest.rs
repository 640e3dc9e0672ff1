//! What both transports share: authenticate, recognise, queue, wait for the commit.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::auth::TokenCheck;
use crate::pipeline::{Pipeline, SubmitError};
use crate::recognize::{Recognized, Recognizer};
use crate::telemetry;

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
    ) -> Self {
        Ingest {
            recognizer: Mutex::new(recognizer),
            pipeline,
            token,
            retry_after,
        }
    }

    /// How long a refused sender should wait.
    pub fn retry_delay(&self, error: &SubmitError) -> Duration {
        match error {
            SubmitError::QueueFull => Duration::from_secs(1),
            _ => self.retry_after,
        }
    }

    fn recognise(&self, f: impl FnOnce(&mut Recognizer) -> Recognized) -> Recognized {
        let recognized = match self.recognizer.lock() {
            Ok(mut recognizer) => f(&mut recognizer),
            // A panic elsewhere cannot corrupt the join cache beyond losing joins.
            Err(poisoned) => f(&mut poisoned.into_inner()),
        };
        for (source, n) in &recognized.spans_by_source {
            telemetry::spans_received(*source, *n);
        }
        telemetry::spans_ignored(recognized.ignored);
        telemetry::spans_rejected(recognized.rejected.len() as u64);
        recognized
    }

    async fn submit(&self, recognized: Recognized) -> Result<Accepted, SubmitError> {
        match self.pipeline.submit(recognized.events).await {
            Ok(()) => Ok(Accepted {
                rejected: recognized.rejected,
            }),
            Err(err) => {
                telemetry::request_refused(match err {
                    SubmitError::QueueFull => "queue_full",
                    SubmitError::Unavailable(_) | SubmitError::ShuttingDown => "unavailable",
                    SubmitError::Failed(_) => "failed",
                });
                Err(err)
            }
        }
    }

    pub async fn traces(
        &self,
        request: &ExportTraceServiceRequest,
    ) -> Result<Accepted, SubmitError> {
        let recognized = self.recognise(|r| r.traces(request, Utc::now()));
        self.submit(recognized).await
    }

    pub async fn logs(&self, request: &ExportLogsServiceRequest) -> Result<Accepted, SubmitError> {
        let recognized = self.recognise(|r| r.logs(request, Utc::now()));
        self.submit(recognized).await
    }
}
