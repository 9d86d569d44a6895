-- The actor runtime's durable state: snapshots, transition journal, durable timers, outbox.

create table actor_snapshots (
  actor_type      text        not null,
  actor_id        text        not null,
  version         bigint      not null,            -- commits so far; optimistic concurrency
  epoch           bigint      not null default 0,  -- shard ownership epoch of the writer; fences former owners
  machine_version integer     not null,            -- version of the machine that wrote the snapshot
  seq             bigint      not null,            -- transitions so far; journal sequence
  snapshot        jsonb       not null,
  processed_ids   jsonb       not null default '[]', -- recent message ids, for deduplication
  updated_at      timestamptz not null default now(),
  primary key (actor_type, actor_id)
);

create table actor_journal (
  actor_type text        not null,
  actor_id   text        not null,
  seq        bigint      not null,
  event      jsonb       not null,
  from_state jsonb           null,
  to_state   jsonb       not null,
  at         timestamptz not null,
  primary key (actor_type, actor_id, seq)
);
create index actor_journal_at on actor_journal (at);

create table actor_timers (
  actor_type text        not null,
  actor_id   text        not null,
  timer_key  text        not null,
  due_at     timestamptz not null,
  event      jsonb       not null,
  primary key (actor_type, actor_id, timer_key)
);
create index actor_timers_due on actor_timers (due_at);

create table actor_outbox (
  id            bigserial   primary key,
  message_id    text        not null unique,
  kind          text        not null check (kind in ('tell', 'event')),
  target        text        not null,           -- actor address for 'tell', NATS subject for 'event'
  payload       jsonb       not null,
  created_at    timestamptz not null default now(),
  claimed_until timestamptz not null default now()
);
create index actor_outbox_claimed on actor_outbox (claimed_until);

create table idempotency_keys (
  scope        text        not null,             -- role, identity, method and path of the request
  key          text        not null,
  request_hash text        not null,
  status       integer         null,             -- null while the first request is in flight
  body         jsonb           null,
  created_at   timestamptz not null default now(),
  primary key (scope, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);
