-- What the collectors remember of spans exported at different times, so that joins hold
-- whichever replica receives which span (store/src/core/joins.rs): per span (trace id, then
-- span id: 24 bytes), the run it belongs to (the first recorded wins), whether it is that
-- run's run span, and an error report logged in it while its run span was not known yet.
-- Writers insert-or-lock a batch's spans here in key order before reading them, so of two
-- concurrent writers of one span the second waits for the first and sees what it committed.
-- Not partitioned (the key is the span); maintenance deletes rows by created_at, with the runs'
-- retention or after a week, whichever comes first.
CREATE TABLE task_span_joins (
    span_ref        bytea       PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    source          task_source,
    task_id         text,
    attempt         integer,
    task_name       text,
    is_run_span     boolean     NOT NULL DEFAULT false,
    error_message   text,
    error_type      text,
    error_traceback text,
    CONSTRAINT span_ref_has_otlp_sizes CHECK (length(span_ref) = 24)
);
CREATE INDEX task_span_joins_created_idx ON task_span_joins (created_at);
