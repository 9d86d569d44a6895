-- Each instance of a cluster fires the timers of the shards it owns: with the shard on the row it
-- reads only those, instead of every instance reading the earliest due timers of all shards and
-- keeping its share (a page full of other shards' timers hid its own until the next poll).
-- Rows written before this have no shard: every instance still reads them and keeps its own.
alter table actor_timers add column shard integer;
create index actor_timers_shard_due on actor_timers (shard, due_at);
