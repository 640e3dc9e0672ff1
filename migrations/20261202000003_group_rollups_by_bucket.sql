-- A window's group failures are read by granularity and bucket (the groups seen in the window,
-- every bucket from its start): a range of this index, where the primary key (group first) would
-- make every read scan all the rollups, which are kept as long as their groups.
CREATE INDEX error_group_rollups_bucket_idx ON error_group_rollups (granularity, bucket)
    INCLUDE (group_id, failures);
