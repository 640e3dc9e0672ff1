"""What the start-signal test does from outside the workers (Redis URL from
$TASKLENS_TEST_REDIS_URL):

    driver.py flush                                   empty the test's Redis database
    driver.py release KEY                             let the task waiting on KEY finish
    driver.py enqueue celery|taskiq TASK ID [ARG...]  send task TASK with task id ID; traced
                                                      like a real producer when TASKLENS_TEST_TRACED=1
"""

import asyncio
import os
import sys

import redis

REDIS_URL = os.environ["TASKLENS_TEST_REDIS_URL"]


def enqueue_celery(task, task_id, args):
    import celery_app

    celery_app.app.tasks[task].apply_async(args=args, task_id=task_id)


def enqueue_taskiq(task, task_id, args):
    import taskiq_app

    async def send():
        await taskiq_app.broker.startup()
        try:
            found = taskiq_app.broker.find_task(task)
            if found is None:
                raise SystemExit(f"no TaskIQ task {task}")
            await found.kicker().with_task_id(task_id).kiq(*args)
        finally:
            await taskiq_app.broker.shutdown()

    asyncio.run(send())


def main(argv):
    command, *rest = argv
    if command == "flush":
        redis.Redis.from_url(REDIS_URL).flushdb()
    elif command == "release":
        redis.Redis.from_url(REDIS_URL).rpush(rest[0], "go")
    elif command == "enqueue":
        system, task, task_id, *args = rest
        provider = None
        if os.environ.get("TASKLENS_TEST_TRACED") == "1":
            import tracing_setup

            provider = tracing_setup.install()
            if system == "celery":
                from opentelemetry.instrumentation.celery import CeleryInstrumentor

                CeleryInstrumentor().instrument()
        {"celery": enqueue_celery, "taskiq": enqueue_taskiq}[system](task, task_id, args)
        if provider is not None:
            provider.shutdown()  # exports the send span before the process ends
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
