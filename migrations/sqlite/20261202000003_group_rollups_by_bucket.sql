-- See the PostgreSQL migration of the same name: a window's group failures are read by
-- granularity and bucket.
CREATE INDEX error_group_rollups_bucket_idx ON error_group_rollups (granularity, bucket, group_id, failures);
