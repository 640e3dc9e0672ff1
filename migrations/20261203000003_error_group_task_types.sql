-- Error groups are per task type (fingerprint v3 hashes the service and the environment): the
-- group's service and environment, '' where its runs do not say, for the filters and the page.
ALTER TABLE error_groups
    ADD COLUMN service text NOT NULL DEFAULT '',
    ADD COLUMN environment text NOT NULL DEFAULT '';

-- A group of an earlier fingerprint version takes the task type of its latest run (read
-- through the group index); its runs of other services stay in it, their next failures open
-- groups of their own.
UPDATE error_groups g
SET service = coalesce(latest.service_name, ''),
    environment = coalesce(latest.environment, '')
FROM error_groups old
CROSS JOIN LATERAL (
    SELECT t.service_name, t.environment FROM task_execution_logs t
    WHERE t.error_group_id = old.id
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT 1
) latest
WHERE old.id = g.id;
