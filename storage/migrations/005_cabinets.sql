-- Battery cabinets and accumulators (seed 002, scooter-accumulator): query projections of the
-- cabinet/<id> and accumulator/<id> actors, written in the same transaction as their snapshots.
-- The actors are the truth; these tables answer lists, lookups and stats.

create table cabinets (
  cabinet_id     text             not null primary key,
  lat            double precision not null,
  lon            double precision not null,
  state          text             not null,           -- online | unresponsive
  -- [{cell, accumulator_id, charge, booking_id}]: a cabinet has tens of cells, read and written whole
  cells          jsonb            not null,
  -- active bookings: [{booking_id, kind, contractor_id, cells, status, created_at, expires_at}]
  bookings       jsonb            not null,
  last_report_at timestamptz          null,
  registered_at  timestamptz      not null,
  updated_at     timestamptz      not null
);

create table accumulators (
  accumulator_id  text             not null primary key,
  location        text             not null,           -- cabinet | contractor | scooter | unknown
  contractor_id   text                 null,           -- the technician carrying it, or who installed it
  cabinet_id      text                 null,           -- charging in this cabinet
  cell            integer              null,
  scooter_id      text                 null,           -- installed in this scooter
  charge          double precision     null,           -- percent, as last reported by a cabinet
  from_cabinet_id text                 null,           -- with a contractor: where it was taken from
  from_cell       integer              null,
  updated_at      timestamptz      not null
);
create index accumulators_contractor on accumulators (contractor_id) where location = 'contractor';
create index accumulators_cabinet on accumulators (cabinet_id) where cabinet_id is not null;
create index accumulators_location on accumulators (location);
