"""The standard OpenTelemetry SDK setup both workers and the traced producer use: OTLP/HTTP
protobuf to $OTEL_EXPORTER_OTLP_ENDPOINT, batch processor (OTEL_BSP_* from the environment),
service name from $OTEL_SERVICE_NAME."""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def install() -> TracerProvider:
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
