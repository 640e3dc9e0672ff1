-- Error groups (issue 15), as in ../20261202000002_error_groups.sql: groups and their failure
-- rollups, kept in the batch's transaction, never touched by retention.
CREATE TABLE error_groups (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    first_seen          INTEGER NOT NULL,
    last_seen           INTEGER NOT NULL,
    state_changed_at    INTEGER NOT NULL,
    total               INTEGER NOT NULL DEFAULT 0,
    fingerprint_version INTEGER NOT NULL,
    state               TEXT    NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'resolved', 'ignored')),
    regression          INTEGER NOT NULL DEFAULT 0,
    fingerprint_hash    TEXT    NOT NULL,
    task_name           TEXT    NOT NULL,
    error_type          TEXT,
    message             TEXT,
    traceback           TEXT,
    CONSTRAINT error_group_fingerprint_unique UNIQUE (fingerprint_version, fingerprint_hash)
);
CREATE INDEX error_groups_last_seen_idx ON error_groups (last_seen DESC);

CREATE TABLE error_group_rollups (
    group_id    INTEGER NOT NULL REFERENCES error_groups (id),
    granularity TEXT    NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
    bucket      INTEGER NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, granularity, bucket)
) WITHOUT ROWID;

ALTER TABLE task_execution_logs ADD COLUMN error_group_id INTEGER;
CREATE INDEX task_execution_logs_error_group_idx ON task_execution_logs
    (error_group_id, created_at DESC, id DESC) WHERE error_group_id IS NOT NULL;
