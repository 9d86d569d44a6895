-- A commit no longer re-sends the actor's whole remembered message-id window: it appends its own
-- ids to `processed_appended`, and only every so many ids rewrites `processed_ids` with the window
-- (emptying `processed_appended`). The remembered ids are `processed_ids || processed_appended`.
alter table actor_snapshots
  add column processed_appended     jsonb  not null default '[]',
  add column processed_rewritten_at bigint not null default 0; -- version whose commit last rewrote processed_ids
