-- The time index, ascending. New runs always sort last, so an ascending index appends at its
-- right edge, where PostgreSQL fills leaf pages to 90%; the descending one inserted at its left
-- edge and split pages 50/50, which stayed half empty (56 bytes per run instead of 31 on the
-- benchmark data, and twice the page splits and their WAL). A backward scan serves
-- ORDER BY created_at DESC, id DESC just the same.
DROP INDEX task_execution_logs_created_idx;
CREATE INDEX task_execution_logs_created_idx ON task_execution_logs (created_at, id);
