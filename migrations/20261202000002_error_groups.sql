-- Error groups (issue 15): every failed run belongs to the group of its fingerprint
-- (tasklens_model::fingerprint). Groups are kept in the batch's transaction
-- (store/src/core/groups.rs plans them) and outlive their runs: neither table below is
-- partitioned, and retention touches neither.
CREATE TYPE error_group_state AS ENUM ('open', 'resolved', 'ignored');

CREATE TABLE error_groups (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    state_changed_at    timestamptz NOT NULL,
    total               bigint      NOT NULL DEFAULT 0,
    fingerprint_version integer     NOT NULL,
    state               error_group_state NOT NULL DEFAULT 'open',
    regression          boolean     NOT NULL DEFAULT false,
    fingerprint_hash    text        NOT NULL,
    task_name           text        NOT NULL,
    error_type          text,
    message             text,
    traceback           text,
    CONSTRAINT error_group_fingerprint_unique UNIQUE (fingerprint_version, fingerprint_hash)
);
-- The errors page: groups seen since a window's start, most recently seen first.
CREATE INDEX error_groups_last_seen_idx ON error_groups (last_seen DESC);

-- Failures per group and bucket (hour, day of the run's created_at, like task_rollups), so a
-- window's counts and a sparkline read these rows, never the runs. A separate table rather than
-- a dimension of task_rollups: those rows carry histograms and every status, summed per task
-- type by every figure read; a group dimension would multiply them and every read would have to
-- sum it away. Failures are few, so no lanes: a batch adds to its groups' rows under the lock
-- the group upsert already holds.
CREATE TABLE error_group_rollups (
    group_id    bigint             NOT NULL REFERENCES error_groups (id),
    granularity rollup_granularity NOT NULL,
    bucket      timestamptz        NOT NULL,
    failures    bigint             NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, granularity, bucket)
);

-- Rows know their group (null for a run that has not failed).
ALTER TABLE task_execution_logs ADD COLUMN error_group_id bigint;
-- A group's latest runs, newest first.
CREATE INDEX task_execution_logs_error_group_idx ON task_execution_logs
    (error_group_id, created_at DESC, id DESC) WHERE error_group_id IS NOT NULL;
