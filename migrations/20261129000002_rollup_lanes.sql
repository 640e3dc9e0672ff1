-- Rollup lanes. Concurrent batch writers used to add to the same rollup rows (each task type's
-- current minute, hour and day), so a batch waited on those rows until the other batch
-- committed, and one slow commit delayed both batches' senders. Each writing transaction now
-- adds to the rows of a lane of its own (the first lane whose transaction-scoped advisory lock
-- it gets, see store/src/postgres/write.rs), and readers sum a bucket's lanes.
ALTER TABLE task_rollups ADD COLUMN lane smallint NOT NULL DEFAULT 0;
ALTER TABLE task_rollups DROP CONSTRAINT task_rollups_pkey;
ALTER TABLE task_rollups ADD PRIMARY KEY (granularity, bucket, task_name, lane);
