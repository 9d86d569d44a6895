-- Mentorship (seed 004, contractor-mentorship): the matching actors' projection (`matchings`, one
-- row per newbie application), their status history (`status_transitions`), the CRM's progress
-- figures (`results`, the seed's columns), and the archive the retention moves ended matchings to.
-- Phones and names are never stored: they are fetched from personal / driver-profiles at read time.

create type matching_status as enum ('created', 'requested', 'matched', 'initialized', 'in_progress', 'finished', 'succeed', 'failed');

create table matchings (
  id                  uuid            not null primary key,
  created_at          timestamptz     not null,
  matched_at          timestamptz         null,  -- when the CRM paired them (its connected_dttm)
  mentor_park_id      text                null,
  mentor_driver_id    text                null,
  newbie_park_id      text            not null,
  newbie_driver_id    text            not null,
  status              matching_status not null,
  mentor_promocode    text                null,
  completed_at        timestamptz         null,  -- succeed or failed
  newbie_last_read_at timestamptz         null,  -- written by the read route only, never by the projection
  mentor_last_read_at timestamptz         null,
  updated_at          timestamptz     not null
);
create index matchings_newbie on matchings (newbie_park_id, newbie_driver_id);
create index matchings_mentor on matchings (mentor_park_id, mentor_driver_id);
create index matchings_status_completed on matchings (status, completed_at);

create table status_transitions (
  id          uuid            not null primary key default gen_random_uuid(),
  matching_id uuid            not null references matchings (id) on delete cascade,
  seq         integer         not null,             -- position in the matching's history: a change is written once
  created_at  timestamptz     not null,
  "from"      matching_status     null,             -- null: the matching was created
  "to"        matching_status not null,
  unique (matching_id, seq)
);

create table results (
  matching_id      uuid not null primary key references matchings (id) on delete cascade,
  newbie_driver_id text not null,
  newbie_park_id   text not null,
  rate_avg_7d      text     null,
  rate_avg_14d     text     null,
  avg_dp_7d        text     null,
  avg_dp_14d       text     null,
  sh_7d            text     null,
  sh_14d           text     null,
  correct_answers  text     null,
  passed_test_flg  text     null
);

-- Ended matchings, moved here (with their history and results) 21 days after they end; removed after 3 months.
create table matchings_archive (like matchings, archived_at timestamptz not null);
alter table matchings_archive add primary key (id);
create index matchings_archive_archived on matchings_archive (archived_at);
create table status_transitions_archive (like status_transitions);
create index status_transitions_archive_matching on status_transitions_archive (matching_id);
create table results_archive (like results);
create index results_archive_matching on results_archive (matching_id);
