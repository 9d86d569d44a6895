-- Actors committed with an invocation in flight before resume timers existed get one now, so the
-- work a crash or handover cut off resumes without waiting for a message (see actors/ActorCell.ts).
insert into actor_timers (actor_type, actor_id, timer_key, due_at, event, shard)
select actor_type, actor_id, 'fleet.resume', now(), '{"type": "fleet.resume"}'::jsonb, null
from actor_snapshots
where jsonb_typeof(snapshot -> 'children') = 'object' and snapshot -> 'children' <> '{}'::jsonb
on conflict (actor_type, actor_id, timer_key) do nothing;
