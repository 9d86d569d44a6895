-- A claimed Idempotency-Key carries a lease: a crashed or failed attempt's claim expires and the
-- retry proceeds (the key is never deleted once its handler may have acted).
alter table idempotency_keys add column claimed_until timestamptz not null default now();
