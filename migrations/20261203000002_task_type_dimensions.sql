-- Task types: a task name within one service and deployment environment. Runs keep the
-- worker's environment beside its service; rollups are keyed by all three ('' where a run does
-- not say), so two services that both run `send_email` keep figures of their own.
ALTER TABLE task_execution_logs ADD COLUMN environment text;

ALTER TABLE task_rollups
    ADD COLUMN service text NOT NULL DEFAULT '',
    ADD COLUMN environment text NOT NULL DEFAULT '';
ALTER TABLE task_rollups DROP CONSTRAINT task_rollups_pkey;
ALTER TABLE task_rollups ADD PRIMARY KEY (granularity, bucket, task_name, service, environment, lane);

-- Rollups written before this migration are keyed by task name alone. The store rebuilds each
-- day's rows from that day's runs, as their service names say (store::rebuild, run after the
-- migrations, one day per transaction); a day is listed here until it is rebuilt.
CREATE TABLE rollup_rebuilds (day timestamptz PRIMARY KEY);
INSERT INTO rollup_rebuilds (day)
    SELECT DISTINCT bucket FROM task_rollups WHERE granularity = 'day';
