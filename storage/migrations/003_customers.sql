-- Park customers (seed 001, fleet-customers): passenger profiles per park, personal data only as
-- personal ids. Scalar data in `customers`; favourite locations and regular routes in their own
-- tables with their own keys, deleted with their customer.

create table customers (
  park_id           text        not null,
  personal_phone_id text        not null,               -- personal's id of the E.164 phone; the phone itself is never stored
  customer_id       uuid        not null unique,        -- what routes and events address
  personal_name_id  text            null,               -- personal's id of the name
  sms_enabled       boolean     not null default false,  -- SMS notices about order statuses
  -- Options of the customer's orders ({tariff_class, payment_method, requirements}); jsonb because
  -- the set grows with the product and is always read and written whole. Shape checked by the route.
  order_options     jsonb       not null default '{}'::jsonb,
  version           bigint      not null default 1,      -- changes so far; the `seq` of public events
  created_at        timestamptz not null,
  updated_at        timestamptz not null,
  primary key (park_id, personal_phone_id)                -- find by phone within the caller's park
);
-- Takeout erases one person in every park.
create index customers_personal_phone on customers (personal_phone_id);

create table customer_locations (
  location_id uuid             not null primary key,
  customer_id uuid             not null references customers (customer_id) on delete cascade,
  label       text                 null,                 -- "home", "work"
  address     text             not null,
  lat         double precision not null,
  lon         double precision not null,
  created_at  timestamptz      not null
);
create index customer_locations_customer on customer_locations (customer_id, created_at);

create table customer_routes (
  route_id    uuid        not null primary key,
  customer_id uuid        not null references customers (customer_id) on delete cascade,
  label       text            null,
  points      jsonb       not null,                      -- [{address, lat, lon}], 2..10, in travel order
  schedule    jsonb           null,                      -- {days: [1..7], time: "HH:MM"}
  created_at  timestamptz not null
);
create index customer_routes_customer on customer_routes (customer_id, created_at);

-- Takeout erase requests by phone id: when asked, when done, how many customers went.
create table customer_takeouts (
  personal_phone_id text        not null primary key,
  requested_at      timestamptz not null,
  completed_at      timestamptz     null,
  customers_deleted integer     not null
);
