//! OTLP/HTTP: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON, optionally gzip.
//!
//! Follows the OTLP specification: the answer uses the request's content type; errors carry a
//! `google.rpc.Status`; 503 with `Retry-After` when the sender should retry; 400 for data that
//! can never be accepted; 413 when the body (also after decompression) exceeds the limit.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ingest::{Accepted, Ingest, IngestSlot};
use crate::pipeline::SubmitError;
use crate::telemetry;

/// `google.rpc.Status`, the body of every OTLP/HTTP error.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

#[derive(Clone)]
struct HttpState {
    ingest: Arc<Ingest>,
    max_bytes: usize,
}

/// The OTLP/HTTP routes.
pub fn router(ingest: Arc<Ingest>, max_bytes: usize) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        // The limit is enforced below, on the compressed and the decompressed body alike.
        .layer(DefaultBodyLimit::disable())
        .with_state(HttpState { ingest, max_bytes })
}

/// An error answer: status code, gRPC code, message.
struct Refusal {
    status: StatusCode,
    code: i32,
    message: String,
    retry_after: Option<u64>,
    format: Format,
}

impl Refusal {
    fn new(status: StatusCode, code: i32, message: impl Into<String>, format: Format) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
            retry_after: None,
            format,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = RpcStatus {
            code: self.code,
            message: self.message,
        };
        let mut response = encode(self.format, &body, self.status);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn encode<M: prost::Message + Serialize>(
    format: Format,
    message: &M,
    status: StatusCode,
) -> Response {
    let bytes = match format {
        Format::Protobuf => message.encode_to_vec(),
        Format::Json => serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
    };
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        bytes,
    )
        .into_response()
}

// gRPC status codes used in error bodies.
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const INTERNAL: i32 = 13;
const UNAVAILABLE: i32 = 14;
const UNAUTHENTICATED: i32 = 16;

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Checks the headers, takes admission (before the body is read: a refused request costs
/// neither memory nor decoding) and returns the body, decompressed and within the limit.
async fn read_body(
    state: &HttpState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Format, Bytes, IngestSlot), Refusal> {
    let content_type = header_str(headers, header::CONTENT_TYPE);
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match essence.as_str() {
        "application/x-protobuf" | "application/protobuf" => Format::Protobuf,
        "application/json" => Format::Json,
        _ => {
            telemetry::request_refused("unsupported_media_type");
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!(
                    "unsupported content type {content_type:?}: send application/x-protobuf or application/json"
                ),
                Format::Json,
            ));
        }
    };
    if !state.ingest.token.allows_header(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    ) {
        telemetry::request_refused("unauthenticated");
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            UNAUTHENTICATED,
            "missing or wrong bearer token in the Authorization header",
            format,
        ));
    }
    let slot = state
        .ingest
        .admit()
        .map_err(|error| refusal_for(&state.ingest, error, format))?;
    let too_large = |what: &str| {
        telemetry::request_refused("too_large");
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            RESOURCE_EXHAUSTED,
            format!("{what} exceeds the limit of {} bytes", state.max_bytes),
            format,
        )
    };
    let raw = axum::body::to_bytes(body, state.max_bytes)
        .await
        .map_err(|_| too_large("the request body"))?;
    let encoding = header_str(headers, header::CONTENT_ENCODING)
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "" | "identity" => raw,
        "gzip" | "x-gzip" => {
            let limit = u64::try_from(state.max_bytes).unwrap_or(u64::MAX);
            let mut decoded = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_ref())
                .take(limit.saturating_add(1))
                .read_to_end(&mut decoded)
                .map_err(|e| {
                    telemetry::request_refused("malformed");
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        INVALID_ARGUMENT,
                        format!("the body is not valid gzip: {e}"),
                        format,
                    )
                })?;
            if decoded.len() > state.max_bytes {
                return Err(too_large("the decompressed request body"));
            }
            Bytes::from(decoded)
        }
        other => {
            telemetry::request_refused("unsupported_media_type");
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!("unsupported content encoding {other:?}: send gzip or no encoding"),
                format,
            ));
        }
    };
    Ok((format, bytes, slot))
}

fn decode<T: prost::Message + Default + DeserializeOwned>(
    format: Format,
    bytes: &[u8],
) -> Result<T, Refusal> {
    let decoded = match format {
        Format::Protobuf => T::decode(bytes).map_err(|e| format!("invalid protobuf: {e}")),
        Format::Json => {
            crate::otlp_json::decode(bytes).map_err(|e| format!("invalid OTLP/JSON: {e}"))
        }
    };
    decoded.map_err(|message| {
        telemetry::request_refused("malformed");
        Refusal::new(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, message, format)
    })
}

fn refusal_for(ingest: &Ingest, error: SubmitError, format: Format) -> Refusal {
    let retry_after = ingest.retry_delay(&error).as_secs().max(1);
    let (status, code) = if error.is_retryable() {
        (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)
    };
    Refusal {
        status,
        code,
        message: error.to_string(),
        retry_after: error.is_retryable().then_some(retry_after),
        format,
    }
}

async fn traces(State(state): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let (format, bytes, slot) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let request: ExportTraceServiceRequest = match decode(format, &bytes) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    drop(bytes);
    match state.ingest.traces(request, Some(slot)).await {
        Ok(accepted) => encode(format, &trace_response(&accepted), StatusCode::OK),
        Err(error) => refusal_for(&state.ingest, error, format).into_response(),
    }
}

async fn logs(State(state): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let (format, bytes, slot) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let request: ExportLogsServiceRequest = match decode(format, &bytes) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    drop(bytes);
    match state.ingest.logs(request, Some(slot)).await {
        Ok(accepted) => encode(format, &logs_response(&accepted), StatusCode::OK),
        Err(error) => refusal_for(&state.ingest, error, format).into_response(),
    }
}

/// An empty `partial_success` unless some spans can never be accepted.
pub fn trace_response(accepted: &Accepted) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: (!accepted.rejected.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: accepted.rejected_count(),
            error_message: accepted.message(),
        }),
    }
}

pub fn logs_response(accepted: &Accepted) -> ExportLogsServiceResponse {
    ExportLogsServiceResponse {
        partial_success: (!accepted.rejected.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: accepted.rejected_count(),
            error_message: accepted.message(),
        }),
    }
}
