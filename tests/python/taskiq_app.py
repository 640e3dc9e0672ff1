"""The TaskIQ broker of the start-signal test: TaskIQ's OpenTelemetry middleware plus the
tasklens start middleware after it. Tracing is set up when a worker process starts."""

import os

import redis.asyncio
from taskiq import TaskiqEvents, TaskiqState
from taskiq.middlewares.opentelemetry_middleware import OpenTelemetryMiddleware
from taskiq_redis import ListQueueBroker

import tracing_setup
from tasklens_start.taskiq import TasklensStartMiddleware

REDIS_URL = os.environ["TASKLENS_TEST_REDIS_URL"]
# socket_timeout=None: redis-py 8 reads with a 5 s timeout by default, which ends the broker's
# blocking BRPOP (and the worker process) after 5 idle seconds.
broker = ListQueueBroker(
    REDIS_URL, queue_name="tasklens_start_signal", socket_timeout=None
).with_middlewares(
    OpenTelemetryMiddleware(),
    TasklensStartMiddleware(),
)


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def init_tracing(_: TaskiqState) -> None:
    tracing_setup.install()


@broker.task(task_name="taskiq_wait_for_release")
async def wait_for_release(key: str) -> None:
    # Bounded: a test that died never leaves the worker blocked for long.
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_timeout=None)
    try:
        if await client.blpop([key], timeout=90) is None:
            raise TimeoutError(f"nobody pushed to {key}")
    finally:
        await client.aclose()


@broker.task(task_name="taskiq_fail_at_once")
async def fail_at_once() -> None:
    raise ValueError("failing on purpose")
