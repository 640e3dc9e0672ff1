-- As ../20261203000003_error_group_task_types.sql: the group's service and environment.
ALTER TABLE error_groups ADD COLUMN service TEXT NOT NULL DEFAULT '';
ALTER TABLE error_groups ADD COLUMN environment TEXT NOT NULL DEFAULT '';

UPDATE error_groups
SET service = coalesce((
        SELECT t.service_name FROM task_execution_logs t WHERE t.error_group_id = error_groups.id
        ORDER BY t.created_at DESC, t.id DESC LIMIT 1), ''),
    environment = coalesce((
        SELECT t.environment FROM task_execution_logs t WHERE t.error_group_id = error_groups.id
        ORDER BY t.created_at DESC, t.id DESC LIMIT 1), '');
