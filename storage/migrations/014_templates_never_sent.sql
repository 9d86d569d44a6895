-- A template has no last_sent_at until a mailing of it is sent (it was set to its creation time,
-- so templates never sent listed first). Listing: sent ones by last send, then never-sent ones by
-- creation, newest first; the expression index serves that order and its keyset.

alter table mailing_templates alter column last_sent_at drop not null;
update mailing_templates t
   set last_sent_at = (select max(m.sent_at) from mailings m where m.template_id = t.id and m.status = 'sent');
drop index mailing_templates_park_last_sent;
create index mailing_templates_park_listing
    on mailing_templates (park_id, (last_sent_at is not null), (coalesce(last_sent_at, created_at)), id);
