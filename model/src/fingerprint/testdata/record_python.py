#!/usr/bin/env python3
"""Records real Python exceptions as the OpenTelemetry SDK reports them on a span.

    python3 -m venv /tmp/fp-venv
    /tmp/fp-venv/bin/pip install opentelemetry-sdk==1.45.2 requests==2.34.2
    /tmp/fp-venv/bin/python record_python.py > python.json

The task module (`app/tasks.py`, below) is written into two fresh release directories, the
second with three more lines at its top: the same code after a deploy that moved every line.
Each task runs inside `start_as_current_span`, which records the exception exactly as a
worker's instrumentation does (`Span.record_exception`); the exception event's attributes are
printed as JSON. Only loopback traffic: the HTTP call goes to a closed port.
"""

import importlib
import json
import socket
import sys
import tempfile
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TASKS = '''
import json

import requests

SCORES = {}


def load_message(message_id):
    if message_id < 0 or message_id > 1000:
        raise ValueError(f"message {message_id} not found in the store")
    return {"id": message_id, "text": "hello"}


def score_message(message_id):
    message = load_message(message_id)
    return SCORES[message["text"]]


def parse_payload(raw):
    return json.loads(raw)


def fetch_profile(port, user_id):
    response = requests.get(f"http://127.0.0.1:{port}/users/{user_id}/profile", timeout=2)
    return response.json()


def charge(order_id):
    try:
        cents = int(order_id) * 100
    except (ValueError, TypeError) as error:
        raise RuntimeError("cannot charge the order") from error
    return cents
'''

# (task, function, arguments); a closed port for the HTTP calls is filled in below.
CALLS = [
    ("score_message", "score_message", (-1,)),
    ("score_message", "score_message", (123456,)),
    ("score_message", "score_message", (7,)),  # KeyError: 'hello'
    ("parse_payload", "parse_payload", ('{"user": }',)),
    ("parse_payload", "parse_payload", ('{"user_name": 1, "age": }',)),
    ("parse_payload", "parse_payload", (None,)),  # TypeError, same task
    ("fetch_profile", "fetch_profile", ("PORT", 42)),
    ("fetch_profile", "fetch_profile", ("PORT", 90817)),
    ("charge", "charge", ("ord-7f3a",)),  # ValueError cause
    ("charge", "charge", (None,)),  # TypeError cause: same line, same message
]


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("record_python")
    port = closed_port()
    records = []
    for deploy, padding in ((1, ""), (2, "# moved\n# by a\n# deploy\n")):
        release = Path(tempfile.mkdtemp(prefix=f"release-{deploy}-"))
        (release / "app").mkdir()
        (release / "app" / "__init__.py").write_text("")
        (release / "app" / "tasks.py").write_text(padding + TASKS)
        sys.path.insert(0, str(release))
        for name in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
            del sys.modules[name]
        tasks = importlib.import_module("app.tasks")
        for task, function, listed in CALLS:
            args = tuple(port if a == "PORT" else a for a in listed)
            exporter.clear()
            try:
                with tracer.start_as_current_span(f"run/{task}"):
                    getattr(tasks, function)(*args)
            except Exception:
                pass
            (span,) = exporter.get_finished_spans()
            (event,) = [e for e in span.events if e.name == "exception"]
            records.append({
                "deploy": deploy,
                "task": task,
                "args": repr(listed),
                "type": event.attributes["exception.type"],
                "message": event.attributes["exception.message"],
                "stacktrace": event.attributes["exception.stacktrace"],
            })
        sys.path.remove(str(release))
    json.dump(records, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
