//! Setup by OpenTelemetry's conventions: `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc` or `http/protobuf`), `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES` (and `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`),
//! with anything set in code winning over the environment.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tasklens_model::Redactor;

use crate::export::{BufferConfig, CountingBatchProcessor, ExportCounters};
use crate::tracker::Tracker;

/// The OTLP transports the tracker can export with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC, port 4317 by convention.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318 by convention.
    HttpProtobuf,
}

impl FromStr for OtlpProtocol {
    type Err = SetupError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" | "http" => Ok(OtlpProtocol::HttpProtobuf),
            other => Err(SetupError::Protocol(other.to_owned())),
        }
    }
}

impl std::fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("unknown OTLP protocol {0:?}: expected grpc or http/protobuf")]
    Protocol(String),
    #[error("the OTLP exporter cannot be built")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("the OTLP token cannot be sent as a header: {0}")]
    Token(String),
    #[error("the HTTP client for OTLP/HTTP cannot be built: {0}")]
    HttpClient(String),
}

/// Builds a [`Tracker`] with its own OTLP pipeline.
#[derive(Debug, Clone, Default)]
pub struct TrackerBuilder {
    endpoint: Option<String>,
    protocol: Option<OtlpProtocol>,
    service_name: Option<String>,
    resource_attributes: Vec<KeyValue>,
    token: Option<String>,
    buffer: BufferConfig,
    export_timeout: Option<Duration>,
    redactor: Redactor,
}

impl Tracker {
    pub fn builder() -> TrackerBuilder {
        TrackerBuilder::default()
    }
}

impl TrackerBuilder {
    /// The collector's base URL, e.g. `http://127.0.0.1:4317` (gRPC) or `http://127.0.0.1:4318`
    /// (HTTP: `/v1/traces` is appended as for `OTEL_EXPORTER_OTLP_ENDPOINT`). Unset: the
    /// environment, then the OTLP default for the protocol.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Unset: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`, then gRPC.
    pub fn protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Unset: `OTEL_SERVICE_NAME` or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.resource_attributes.push(attribute);
        self
    }

    /// A bearer token for a collector that asks for one (`Authorization: Bearer …`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t| !t.trim().is_empty());
        self
    }

    /// Buffer size and flush interval of the batch processor. The flush interval is capped at
    /// 500 ms so a run's "running" state reaches the collector within a second.
    pub fn buffer(mut self, buffer: BufferConfig) -> Self {
        self.buffer = buffer;
        self
    }

    /// How long one export may take before it counts as failed (default: the exporter's,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` or 10 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// Parameter keys to redact (case-insensitive substrings).
    pub fn secret_keys<'a>(mut self, keys: impl IntoIterator<Item = &'a str>) -> Self {
        self.redactor = Redactor::new(keys);
        self
    }

    /// The protocol in force: code, then the environment, then gRPC.
    pub fn resolved_protocol(&self) -> Result<OtlpProtocol, SetupError> {
        if let Some(protocol) = self.protocol {
            return Ok(protocol);
        }
        for var in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Ok(value) = std::env::var(var)
                && !value.trim().is_empty()
            {
                return value.parse();
            }
        }
        Ok(OtlpProtocol::Grpc)
    }

    /// Builds the OTLP exporter and the pipeline. With gRPC, call it inside a Tokio runtime
    /// (the gRPC channel runs on it).
    pub fn install(self) -> Result<TrackerGuard, SetupError> {
        let protocol = self.resolved_protocol()?;
        let bearer = self.token.as_ref().map(|t| format!("Bearer {}", t.trim()));
        match protocol {
            OtlpProtocol::Grpc => {
                let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                if let Some(timeout) = self.export_timeout {
                    builder = builder.with_timeout(timeout);
                }
                if let Some(bearer) = &bearer {
                    let mut metadata = tonic::metadata::MetadataMap::new();
                    let value = bearer
                        .parse()
                        .map_err(|_| SetupError::Token("not valid header text".into()))?;
                    metadata.insert("authorization", value);
                    builder = builder.with_metadata(metadata);
                }
                let exporter = builder.build()?;
                Ok(self.install_with_exporter(exporter))
            }
            OtlpProtocol::HttpProtobuf => {
                let client = blocking_http_client()?;
                let mut builder = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_http_client(client);
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(http_traces_url(endpoint));
                }
                if let Some(timeout) = self.export_timeout {
                    builder = builder.with_timeout(timeout);
                }
                if let Some(bearer) = bearer {
                    builder =
                        builder.with_headers(HashMap::from([("authorization".to_owned(), bearer)]));
                }
                let exporter = builder.build()?;
                Ok(self.install_with_exporter(exporter))
            }
        }
    }

    /// The pipeline with any exporter (tests use the SDK's in-memory one).
    pub fn install_with_exporter<E: SpanExporter + 'static>(self, exporter: E) -> TrackerGuard {
        let mut buffer = self.buffer;
        buffer.flush_interval = buffer.flush_interval.min(Duration::from_millis(500));
        let processor = CountingBatchProcessor::new(exporter, buffer);
        let counters = processor.counters();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(self.resource())
            .build();
        let tracker = Tracker::with_tracer_provider(&provider)
            .with_redactor(self.redactor)
            .with_export_counters(counters.clone());
        TrackerGuard {
            tracker,
            provider,
            counters,
            shut_down: false,
        }
    }

    fn resource(&self) -> Resource {
        // Resource::builder reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
        let mut builder = Resource::builder();
        if let Some(name) = &self.service_name {
            builder = builder.with_service_name(name.clone());
        }
        let from_env = Resource::builder().build();
        let has_host = from_env
            .get(&opentelemetry::Key::from_static_str("host.name"))
            .is_some()
            || self
                .resource_attributes
                .iter()
                .any(|kv| kv.key.as_str() == "host.name");
        if !has_host && let Some(host) = host_name() {
            builder = builder.with_attribute(KeyValue::new("host.name", host));
        }
        builder
            .with_attributes(self.resource_attributes.clone())
            .build()
    }
}

/// `http://host:4318` → `http://host:4318/v1/traces`; a URL that already has a path is kept.
pub fn http_traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

/// The worker's host name, for `host.name` (the run's worker host in tasklens).
fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The blocking client runs inside the batch processor's thread. It is built (and its
/// internal runtime started) on a plain thread, since building one inside an async context
/// panics.
fn blocking_http_client() -> Result<reqwest::blocking::Client, SetupError> {
    std::thread::spawn(|| reqwest::blocking::Client::builder().build())
        .join()
        .map_err(|_| SetupError::HttpClient("building the client panicked".into()))?
        .map_err(|e| SetupError::HttpClient(e.to_string()))
}

/// The tracker and its pipeline; flushes and shuts the pipeline down when dropped (or with
/// [`TrackerGuard::shutdown`], which does not block an async runtime's thread).
#[derive(Debug)]
pub struct TrackerGuard {
    tracker: Tracker,
    provider: SdkTracerProvider,
    counters: Arc<ExportCounters>,
    shut_down: bool,
}

impl TrackerGuard {
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The provider, for other instrumentation (e.g. tracing-opentelemetry) to share.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    pub fn counters(&self) -> &ExportCounters {
        &self.counters
    }

    /// Exports what is buffered now, off the async runtime's threads.
    pub async fn flush(&self) {
        let provider = self.provider.clone();
        run_blocking(move || {
            let _ = provider.force_flush();
        })
        .await;
    }

    /// Exports what is buffered and stops the pipeline, off the async runtime's threads.
    pub async fn shutdown(mut self) {
        self.shut_down = true;
        let provider = self.provider.clone();
        run_blocking(move || {
            let _ = provider.shutdown();
        })
        .await;
    }
}

async fn run_blocking(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let _ = runtime.spawn_blocking(work).await;
        }
        Err(_) => work(),
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        if !self.shut_down {
            // Blocks until the last batch is exported or the SDK's shutdown timeout passes.
            let _ = self.provider.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_by_their_otel_names() {
        assert_eq!(
            "grpc".parse::<OtlpProtocol>().ok(),
            Some(OtlpProtocol::Grpc)
        );
        assert_eq!(
            " HTTP/protobuf".parse::<OtlpProtocol>().ok(),
            Some(OtlpProtocol::HttpProtobuf)
        );
        assert!("http/json".parse::<OtlpProtocol>().is_err());
    }

    #[test]
    fn http_endpoints_get_the_traces_path() {
        assert_eq!(
            http_traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("https://otel.example/custom/v1/traces"),
            "https://otel.example/custom/v1/traces"
        );
    }
}
