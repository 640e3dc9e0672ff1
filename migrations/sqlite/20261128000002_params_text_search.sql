-- Free text over params: a part of the params' JSON text (LIKE). A substring search reads this
-- covering index of the runs that have params instead of every row (and its traceback).
CREATE INDEX task_execution_logs_params_idx ON task_execution_logs (params)
    WHERE params IS NOT NULL;
