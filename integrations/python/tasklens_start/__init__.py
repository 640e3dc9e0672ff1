"""Start signals of the tasklens conventions for Python workers whose OpenTelemetry
instrumentation exports a run only when it ends (docs/conventions.md, "Running state for Celery
and TaskIQ workers"). Each module stands alone and needs only opentelemetry-api besides its task
library: copy the one you need into your project.
"""
