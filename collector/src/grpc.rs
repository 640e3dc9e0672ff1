//! OTLP/gRPC: `TraceService/Export` and `LogsService/Export`.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::http::{logs_response, trace_response};
use crate::ingest::{Ingest, IngestSlot};
use crate::pipeline::SubmitError;
use crate::telemetry;

#[derive(Debug, Clone)]
struct GrpcReceiver {
    ingest: Arc<Ingest>,
}

impl GrpcReceiver {
    /// Runs before tonic reads and decodes the message: the bearer token, then admission
    /// (room in the queue, a free slot). The slot travels to the handler in the extensions.
    fn admit(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let presented = request
            .metadata()
            .get("authorization")
            .map(tonic::metadata::MetadataValue::as_bytes);
        if !self.ingest.token.allows_header(presented) {
            telemetry::request_refused("unauthenticated");
            return Err(Status::unauthenticated(
                "missing or wrong bearer token in the authorization metadata",
            ));
        }
        let slot = self.ingest.admit().map_err(|error| self.refusal(error))?;
        request.extensions_mut().insert(slot);
        Ok(request)
    }

    /// UNAVAILABLE with a RetryInfo delay for what the sender should retry; INTERNAL otherwise.
    fn refusal(&self, error: SubmitError) -> Status {
        if error.is_retryable() {
            Status::with_error_details(
                Code::Unavailable,
                error.to_string(),
                ErrorDetails::with_retry_info(Some(self.ingest.retry_delay(&error))),
            )
        } else {
            Status::internal(error.to_string())
        }
    }
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        mut request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let slot = request.extensions_mut().remove::<IngestSlot>();
        match self.ingest.traces(request.into_inner(), slot).await {
            Ok(accepted) => Ok(Response::new(trace_response(&accepted))),
            Err(error) => Err(self.refusal(error)),
        }
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(
        &self,
        mut request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let slot = request.extensions_mut().remove::<IngestSlot>();
        match self.ingest.logs(request.into_inner(), slot).await {
            Ok(accepted) => Ok(Response::new(logs_response(&accepted))),
            Err(error) => Err(self.refusal(error)),
        }
    }
}

/// Both services, with gzip, the message size limit (tonic applies it after decompression
/// too) and admission before decoding.
pub fn routes(ingest: Arc<Ingest>, max_bytes: usize) -> Routes {
    let receiver = GrpcReceiver { ingest };
    let traces = TraceServiceServer::new(receiver.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_bytes);
    let logs = LogsServiceServer::new(receiver.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_bytes);
    let admit_traces = receiver.clone();
    let admit_logs = receiver;
    Routes::new(InterceptedService::new(traces, move |r| {
        admit_traces.admit(r)
    }))
    .add_service(InterceptedService::new(logs, move |r| admit_logs.admit(r)))
}

/// tonic answers OUT_OF_RANGE, which OTLP clients retry, for a message over the size limit;
/// OTLP wants RESOURCE_EXHAUSTED (final without RetryInfo). Rewrites that one answer.
pub fn too_large_is_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let out_of_range = headers.get("grpc-status").is_some_and(|v| v == "11");
    let too_large = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.contains("too%20large") || m.contains("too large"));
    if out_of_range && too_large {
        telemetry::request_refused("too_large");
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}
