-- Mailings (seed 000, fleet-communications), with the seed's syntax slips fixed:
-- no trailing comma, FOREIGN KEY (column), statuses that match the mailing actor.

create type driver_status as enum ('working', 'online');
create type mailing_status as enum ('created', 'sending', 'sent', 'cancelled', 'failed');

create table mailing_templates (
  id                  text          not null primary key,
  park_id             text          not null,
  work_rule           text              null,
  status              driver_status     null,
  excl_contractor_ids text[]            null,
  incl_contractor_ids text[]            null,
  message             text          not null,
  created_at          timestamptz   not null,
  created_by          bigint        not null,
  last_sent_at        timestamptz   not null
);
create index mailing_templates_park_created on mailing_templates (park_id, created_at);
create index mailing_templates_park_last_sent on mailing_templates (park_id, last_sent_at, id);

create table mailings (
  id               text           not null primary key,
  park_id          text           not null,
  template_id      text           not null references mailing_templates (id),
  created_at       timestamptz    not null,
  created_by       bigint         not null,
  status           mailing_status not null,
  updated_at       timestamptz        null,
  recipients_count integer            null,
  sent_at          timestamptz        null
);
create index mailings_park_created on mailings (park_id, created_at, id);
create index mailings_park_template_created on mailings (park_id, template_id, created_at);
