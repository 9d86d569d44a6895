-- Driver statuses to KRT (seed 003, deptrans-driver-status-integration): KRT ids bound to drivers,
-- the history of their KRT sessions, and the shared KRT token.
--
-- Both query tables are read incrementally by other services (`/internal/v1/*/updates`). Every
-- write stamps the row with the id of its transaction (`change_xid`) and a sequence number; a
-- reader only returns rows whose transaction id is below the oldest transaction still running
-- (`pg_snapshot_xmin(pg_current_snapshot())`), so a transaction that commits late can never slip
-- in behind a cursor already handed out: see storage/driverStatusRepository.ts.

create sequence driver_status_changes;

-- The KRT id ("ID") of each person, by driver licence (a personal id). Changes rarely.
create table profiles (
  driver_license_pd_id text        not null primary key,
  deptrans_id          text            null,            -- null: the person has no KRT id (any more)
  updated_at           timestamptz not null,
  change_xid           xid8        not null default pg_current_xact_id(),
  change_seq           bigint      not null default nextval('driver_status_changes')
);
create index profiles_updated_at on profiles (updated_at);
create index profiles_changes on profiles (change_xid, change_seq);

-- KRT's answer about each person's shift (session) every time it changed; history is kept for
-- SESSION_HISTORY_DAYS (1..30), the latest row of each person always.
create table session_statuses (
  id                   bigint      not null primary key default nextval('driver_status_changes'),
  driver_license_pd_id text        not null,
  session_seq          integer     not null,            -- the session actor's change number: idempotent writes
  session_status       text        not null check (session_status in ('active', 'paused', 'ended', 'none')),
  updated_at           timestamptz not null,
  ended_at             timestamptz     null,
  change_xid           xid8        not null default pg_current_xact_id(),
  unique (driver_license_pd_id, session_seq)
);
create index session_statuses_updated_at on session_statuses (updated_at);
create index session_statuses_ended_at on session_statuses (ended_at);
create index session_statuses_changes on session_statuses (change_xid, id);
create index session_statuses_latest on session_statuses (driver_license_pd_id, session_seq desc);

-- The KRT access token, shared by every instance; the row is locked while one of them refreshes.
create table krt_tokens (
  name         text        not null primary key,
  access_token text            null,
  expires_at   timestamptz     null,
  updated_at   timestamptz not null default now()
);
insert into krt_tokens (name) values ('krt');
