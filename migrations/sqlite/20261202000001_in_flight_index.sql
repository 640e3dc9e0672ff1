-- The few unfinished runs, by age: stuck-run checks and the history's pending and running
-- filters read them here instead of walking the time index through every finished run. The
-- queries repeat this predicate literally (store/src/sql/mod.rs, IN_FLIGHT) so that every plan,
-- generic ones included, can use the index.
CREATE INDEX task_execution_logs_in_flight_idx ON task_execution_logs (created_at, id)
    WHERE status IN ('pending', 'running');
