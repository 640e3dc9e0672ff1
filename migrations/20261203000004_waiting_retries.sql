-- A Celery producer that arrives before its parent span waits on the parent's join row
-- (store/src/core/joins.rs, WaitingRetry): the task id, name, enqueue time and queue of the
-- retry it may be, released when the parent turns out to be a run of the same task id.
ALTER TABLE task_span_joins ADD COLUMN waiting_retry jsonb;
