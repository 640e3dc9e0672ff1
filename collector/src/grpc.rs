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
use tonic::metadata::MetadataMap;
use tonic::service::Routes;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::http::{logs_response, trace_response};
use crate::ingest::Ingest;
use crate::pipeline::SubmitError;
use crate::telemetry;

#[derive(Debug, Clone)]
struct GrpcReceiver {
    ingest: Arc<Ingest>,
}

impl GrpcReceiver {
    fn authenticate(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let presented = metadata.get("authorization").map(|v| v.as_bytes());
        if self.ingest.token.allows(presented) {
            Ok(())
        } else {
            telemetry::request_refused("unauthenticated");
            Err(Status::unauthenticated(
                "missing or wrong bearer token in the authorization metadata",
            ))
        }
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
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.authenticate(request.metadata())?;
        match self.ingest.traces(request.get_ref()).await {
            Ok(accepted) => Ok(Response::new(trace_response(&accepted))),
            Err(error) => Err(self.refusal(error)),
        }
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.authenticate(request.metadata())?;
        match self.ingest.logs(request.get_ref()).await {
            Ok(accepted) => Ok(Response::new(logs_response(&accepted))),
            Err(error) => Err(self.refusal(error)),
        }
    }
}

/// Both services, with gzip and the message size limit (tonic applies it after decompression
/// too).
pub fn routes(ingest: Arc<Ingest>, max_bytes: usize) -> Routes {
    let receiver = GrpcReceiver { ingest };
    let traces = TraceServiceServer::new(receiver.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_bytes);
    let logs = LogsServiceServer::new(receiver)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_bytes);
    Routes::new(traces).add_service(logs)
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
