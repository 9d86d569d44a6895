-- The journal is appended in time order and read by `at` only to drop old rows: a BRIN index
-- serves that delete at a fraction of a B-tree's cost per inserted row (every actor turn adds one).
drop index actor_journal_at;
create index actor_journal_at on actor_journal using brin (at);
