-- Whether each person is connected to order dispatch now (the krt-session actors' view,
-- projected): what the product gauge counts, per region, as the supply blocking would refuse.
create table krt_connectivity (
  driver_license_pd_id text        not null primary key,
  connected            boolean     not null,
  updated_at           timestamptz not null
);
create index krt_connectivity_connected on krt_connectivity (driver_license_pd_id) where connected;
