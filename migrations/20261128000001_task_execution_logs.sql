-- The task-run store. See ARCHITECTURE.md ("The store") for why it is shaped this way.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TYPE task_status AS ENUM ('pending', 'running', 'success', 'failed');
CREATE TYPE task_source AS ENUM ('tasklens', 'celery', 'taskiq', 'bullmq', 'sidekiq', 'messaging');
CREATE TYPE rollup_granularity AS ENUM ('minute', 'hour', 'day');

CREATE SEQUENCE task_execution_logs_id_seq AS bigint;

-- One row per run (task id + attempt). Range-partitioned by day of created_at, the time
-- tasklens first heard of the run, which never changes, so a row never moves partition.
-- Fixed-width columns come first to keep alignment padding out of every row.
CREATE TABLE task_execution_logs (
    id              bigint      NOT NULL DEFAULT nextval('task_execution_logs_id_seq'),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    enqueued_at     timestamptz,
    started_at      timestamptz,
    completed_at    timestamptz,
    duration_ms     bigint,
    queue_wait_ms   bigint,
    attempt         integer     NOT NULL DEFAULT 0,
    status          task_status NOT NULL,
    source          task_source NOT NULL,
    task_name       text        NOT NULL,
    task_id         text        NOT NULL,
    trace_id        bytea,
    span_id         bytea,
    queue           text,
    service_name    text,
    worker_host     text,
    error_type      text,
    params          jsonb,
    error_message   text,
    error_traceback text,
    -- Constraint names are the rule names of tasklens_model::ValidationRule.
    CONSTRAINT task_name_required CHECK (btrim(task_name) <> ''),
    CONSTRAINT task_id_required CHECK (btrim(task_id) <> ''),
    CONSTRAINT attempt_not_negative CHECK (attempt >= 0),
    CONSTRAINT running_run_has_started_at CHECK (status <> 'running' OR started_at IS NOT NULL),
    CONSTRAINT completed_run_has_timestamps CHECK (
        status NOT IN ('success', 'failed')
        OR (started_at IS NOT NULL AND completed_at IS NOT NULL AND duration_ms IS NOT NULL)),
    CONSTRAINT failed_run_has_error_message CHECK (
        status <> 'failed' OR (error_message IS NOT NULL AND btrim(error_message) <> '')),
    CONSTRAINT completed_not_before_started CHECK (completed_at >= started_at),
    CONSTRAINT durations_not_negative CHECK (duration_ms >= 0 AND queue_wait_ms >= 0),
    CONSTRAINT trace_ids_have_otlp_sizes CHECK (length(trace_id) = 16 AND length(span_id) = 8),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- Catches a row whose day has no partition yet (say the maintenance job has not run for days),
-- so no row is ever refused for its date. Maintenance moves such rows into their partition.
CREATE TABLE task_execution_logs_default PARTITION OF task_execution_logs DEFAULT;

-- History page: filtered by task type (and status), newest first.
CREATE INDEX task_execution_logs_history_idx
    ON task_execution_logs (task_name, status, created_at DESC, id DESC);
-- History page without a task filter, time windows, raw edges of rollup windows.
CREATE INDEX task_execution_logs_created_idx ON task_execution_logs (created_at DESC, id DESC);
-- Other attempts of a task id; exact and prefix search by task id.
CREATE INDEX task_execution_logs_task_id_idx ON task_execution_logs (task_id text_pattern_ops);
-- Free-text search over error messages: only failed runs have one, so the index stays small.
CREATE INDEX task_execution_logs_error_trgm_idx ON task_execution_logs
    USING gin (error_message gin_trgm_ops) WHERE error_message IS NOT NULL;

-- The identity of every run: the digest of (source, task id, attempt) -> where its row lives.
-- PostgreSQL cannot enforce uniqueness across partitions on a column other than the partition
-- key, and every event of a run must find the one row: this unpartitioned table is that unique
-- index. Writers lock a run's key here, which serialises concurrent writers of one run.
CREATE TABLE task_run_keys (
    run_key    uuid        PRIMARY KEY,
    id         bigint      NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX task_run_keys_created_idx ON task_run_keys (created_at);

-- Per task type and bucket (minute, hour, day of created_at): the sum of the runs' figures,
-- kept in the transaction that writes the runs. Histograms are counts per log-scale bin
-- (tasklens_model::histogram).
CREATE TABLE task_rollups (
    granularity     rollup_granularity NOT NULL,
    bucket          timestamptz NOT NULL,
    task_name       text        NOT NULL,
    pending         bigint      NOT NULL DEFAULT 0,
    running         bigint      NOT NULL DEFAULT 0,
    success         bigint      NOT NULL DEFAULT 0,
    failed          bigint      NOT NULL DEFAULT 0,
    duration_count  bigint      NOT NULL DEFAULT 0,
    duration_sum_ms bigint      NOT NULL DEFAULT 0,
    duration_hist   bigint[]    NOT NULL DEFAULT '{}',
    wait_count      bigint      NOT NULL DEFAULT 0,
    wait_sum_ms     bigint      NOT NULL DEFAULT 0,
    wait_hist       bigint[]    NOT NULL DEFAULT '{}',
    PRIMARY KEY (granularity, bucket, task_name)
);

-- Element-wise sum of two histograms of any lengths.
CREATE FUNCTION tasklens_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}'::bigint[])
    FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;
