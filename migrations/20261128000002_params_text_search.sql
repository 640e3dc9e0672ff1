-- Free text over params: a case-insensitive part of the params' JSON text (`params::text ILIKE`),
-- through a trigram index. Created on the partitioned table, so every partition has it,
-- including those maintenance creates later.
CREATE INDEX task_execution_logs_params_trgm_idx ON task_execution_logs
    USING gin ((params::text) gin_trgm_ops);
