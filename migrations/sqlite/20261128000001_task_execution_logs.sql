-- The task-run store on SQLite (SqliteStore). Same rows and rollups as the PostgreSQL schema in
-- ../20261128000001_task_execution_logs.sql, without partitions: one file, one writer.
-- Timestamps are INTEGER microseconds since the Unix epoch (PostgreSQL's precision), so they
-- compare and range-scan as numbers.

-- One row per run. AUTOINCREMENT: an id is never reused after retention deletes the newest rows,
-- so a link to a run never shows another run.
CREATE TABLE task_execution_logs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    enqueued_at     INTEGER,
    started_at      INTEGER,
    completed_at    INTEGER,
    duration_ms     INTEGER,
    queue_wait_ms   INTEGER,
    attempt         INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    task_name       TEXT    NOT NULL,
    task_id         TEXT    NOT NULL,
    trace_id        BLOB,
    span_id         BLOB,
    queue           TEXT,
    service_name    TEXT,
    worker_host     TEXT,
    error_type      TEXT,
    params          TEXT,
    error_message   TEXT,
    error_traceback TEXT,
    CONSTRAINT known_status CHECK (status IN ('pending', 'running', 'success', 'failed')),
    CONSTRAINT known_source CHECK (
        source IN ('tasklens', 'celery', 'taskiq', 'bullmq', 'sidekiq', 'messaging')),
    -- Constraint names are the rule names of tasklens_model::ValidationRule.
    CONSTRAINT task_name_required CHECK (trim(task_name) <> ''),
    CONSTRAINT task_id_required CHECK (trim(task_id) <> ''),
    CONSTRAINT attempt_not_negative CHECK (attempt >= 0),
    CONSTRAINT running_run_has_started_at CHECK (status <> 'running' OR started_at IS NOT NULL),
    CONSTRAINT completed_run_has_timestamps CHECK (
        status NOT IN ('success', 'failed')
        OR (started_at IS NOT NULL AND completed_at IS NOT NULL AND duration_ms IS NOT NULL)),
    CONSTRAINT failed_run_has_error_message CHECK (
        status <> 'failed' OR (error_message IS NOT NULL AND trim(error_message) <> '')),
    CONSTRAINT completed_not_before_started CHECK (completed_at >= started_at),
    CONSTRAINT durations_not_negative CHECK (duration_ms >= 0 AND queue_wait_ms >= 0),
    CONSTRAINT trace_ids_have_otlp_sizes CHECK (length(trace_id) = 16 AND length(span_id) = 8)
);

-- The run identity: every event of a run finds its one row (no partitions, so a plain unique
-- index does what task_run_keys does on PostgreSQL). Also serves "other attempts of a task id".
CREATE UNIQUE INDEX task_execution_logs_run_key_idx
    ON task_execution_logs (source, task_id, attempt);
-- History page: filtered by task type (and status), newest first.
CREATE INDEX task_execution_logs_history_idx
    ON task_execution_logs (task_name, status, created_at DESC, id DESC);
-- History page without a task filter, time windows, raw edges of rollup windows, retention.
CREATE INDEX task_execution_logs_created_idx ON task_execution_logs (created_at DESC, id DESC);
-- Exact and prefix search by task id (a range over the binary collation).
CREATE INDEX task_execution_logs_task_id_idx ON task_execution_logs (task_id);
-- Free-text search over error messages: only failed runs have one, so a substring search reads
-- this small covering index instead of every row.
CREATE INDEX task_execution_logs_error_idx ON task_execution_logs (error_message)
    WHERE error_message IS NOT NULL;

-- Per task type and bucket (minute, hour, day of created_at): the sum of the runs' figures,
-- kept in the transaction that writes the runs. Histograms are JSON arrays of counts per
-- log-scale bin (tasklens_model::histogram), added element-wise by the store.
CREATE TABLE task_rollups (
    granularity     TEXT    NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
    bucket          INTEGER NOT NULL,
    task_name       TEXT    NOT NULL,
    pending         INTEGER NOT NULL DEFAULT 0,
    running         INTEGER NOT NULL DEFAULT 0,
    success         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    duration_count  INTEGER NOT NULL DEFAULT 0,
    duration_sum_ms INTEGER NOT NULL DEFAULT 0,
    duration_hist   TEXT    NOT NULL DEFAULT '[]',
    wait_count      INTEGER NOT NULL DEFAULT 0,
    wait_sum_ms     INTEGER NOT NULL DEFAULT 0,
    wait_hist       TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (granularity, bucket, task_name)
) WITHOUT ROWID;
-- Retention deletes old buckets of every granularity.
CREATE INDEX task_rollups_bucket_idx ON task_rollups (bucket);
