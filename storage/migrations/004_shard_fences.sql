-- Cluster fencing: the newest ownership epoch of each shard. A snapshot written with an older
-- epoch (a paused or partitioned former owner) is rejected.
create table shard_fences (
  shard integer primary key,
  epoch bigint  not null
);
