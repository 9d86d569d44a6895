-- The KRT token refresh is claimed by a lease in its row instead of a row lock held across the
-- HTTP call to KRT (which kept a transaction open and held back the feeds' snapshot horizon).
alter table krt_tokens
  add column refresh_claim       text        null,
  add column refresh_claim_until timestamptz null;
