-- See the PostgreSQL migration of the same name: rollups are keyed by task name, service and
-- environment, and the days written before are rebuilt from their runs by the store.
ALTER TABLE task_execution_logs ADD COLUMN environment TEXT;

CREATE TABLE task_rollups_by_type (
    granularity     TEXT    NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
    bucket          INTEGER NOT NULL,
    task_name       TEXT    NOT NULL,
    service         TEXT    NOT NULL DEFAULT '',
    environment     TEXT    NOT NULL DEFAULT '',
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
    PRIMARY KEY (granularity, bucket, task_name, service, environment)
) WITHOUT ROWID;
INSERT INTO task_rollups_by_type (granularity, bucket, task_name, pending, running, success,
    failed, duration_count, duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist)
    SELECT granularity, bucket, task_name, pending, running, success, failed, duration_count,
        duration_sum_ms, duration_hist, wait_count, wait_sum_ms, wait_hist FROM task_rollups;
DROP TABLE task_rollups;
ALTER TABLE task_rollups_by_type RENAME TO task_rollups;
CREATE INDEX task_rollups_bucket_idx ON task_rollups (bucket);

CREATE TABLE rollup_rebuilds (day INTEGER PRIMARY KEY);
INSERT INTO rollup_rebuilds (day)
    SELECT DISTINCT bucket FROM task_rollups WHERE granularity = 'day';
