"""The Celery app of the start-signal test: the standard instrumentation plus the tasklens
start signal, set up in each pool process as the instrumentation's documentation says."""

import os

import redis
from celery import Celery
from celery.signals import worker_process_init
from opentelemetry.instrumentation.celery import CeleryInstrumentor

import tasklens_start.celery
import tracing_setup

REDIS_URL = os.environ["TASKLENS_TEST_REDIS_URL"]
app = Celery("start_signal", broker=REDIS_URL)
app.conf.broker_connection_retry_on_startup = True


@worker_process_init.connect(weak=False)
def init_tracing(**_):
    tracing_setup.install()
    CeleryInstrumentor().instrument()
    tasklens_start.celery.connect()


@app.task(name="celery_wait_for_release")
def wait_for_release(key):
    # Bounded: a test that died never leaves the worker blocked for long.
    if redis.Redis.from_url(REDIS_URL, socket_timeout=None).blpop([key], timeout=90) is None:
        raise TimeoutError(f"nobody pushed to {key}")


@app.task(name="celery_fail_at_once")
def fail_at_once():
    raise ValueError("failing on purpose")
