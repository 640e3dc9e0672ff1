"""TaskIQ: a middleware that sends the tasklens start signal, so a run shows as running while it
runs (TaskIQ's OpenTelemetryMiddleware exports the run span when it ends).

List it after OpenTelemetryMiddleware, whose `pre_execute` makes the run span current:

    broker = ListQueueBroker(url).with_middlewares(
        OpenTelemetryMiddleware(),
        TasklensStartMiddleware(),
    )
"""

from opentelemetry import trace
from opentelemetry.propagate import extract
from taskiq import TaskiqMessage, TaskiqMiddleware


class TasklensStartMiddleware(TaskiqMiddleware):
    def __init__(self, tracer_provider=None):
        super().__init__()
        self.tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        identity = {
            "tasklens.task.id": message.task_id,
            # the retry middleware counts retries in this label, and bumps it only after the run
            "tasklens.task.attempt": int(message.labels.get("_retries", 0)),
        }
        run = trace.get_current_span()
        if run.get_span_context().is_valid:
            # The run span carries no task id of its own; stamped, it lands on the start
            # signal's row even when tasklens never saw the span of the send.
            run.set_attributes(identity)
            context = None
        else:
            # Listed before OpenTelemetryMiddleware: the trace context in the labels still puts
            # the start span in the run's trace.
            context = extract(message.labels)
        self.tracer.start_span(
            f"start {message.task_name}",
            context=context,
            kind=trace.SpanKind.INTERNAL,
            attributes={
                "tasklens.task.name": message.task_name,
                **identity,
                "tasklens.task.state": "running",
                "tasklens.task.source": "taskiq",
            },
        ).end()  # ended at once: exporters send a span only when it ends
        return message
