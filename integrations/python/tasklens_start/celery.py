"""Celery: a `task_prerun` handler that sends the tasklens start signal, so a run shows as
running while it runs (opentelemetry-instrumentation-celery exports the run span when it ends).

In the worker, after the instrumentation:

    @worker_process_init.connect(weak=False)
    def init_tracing(**_):
        ...  # tracer provider and exporter
        CeleryInstrumentor().instrument()
        tasklens_start.celery.connect()
"""

from celery import signals
from opentelemetry import trace
from opentelemetry.propagate import extract


def connect(tracer_provider=None):
    """Connects the handler. Call it after `CeleryInstrumentor().instrument()`: handlers run in
    the order they were connected, and the run span must already be current."""
    tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

    def start(task_id, task, **_):
        # Connected too early, the run span is not current yet: the context propagated in the
        # message still puts the start span in the run's trace.
        current = trace.get_current_span().get_span_context().is_valid
        context = None if current else extract(vars(task.request))
        tracer.start_span(
            f"start {task.name}",
            context=context,
            kind=trace.SpanKind.INTERNAL,
            attributes={
                "tasklens.task.name": task.name,
                # what the collector files the Celery run span under: the request id and
                # `celery.retries`
                "tasklens.task.id": task_id,
                "tasklens.task.attempt": task.request.retries or 0,
                "tasklens.task.state": "running",
                "tasklens.task.source": "celery",
            },
        ).end()  # ended at once: exporters send a span only when it ends

    signals.task_prerun.connect(start, weak=False, dispatch_uid="tasklens_start")
