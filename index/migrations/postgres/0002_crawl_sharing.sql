-- Crawling shared between processes (several `patroli run` workers on one store).
-- A source's run is leased to one worker at a time; the worker renews the lease while it runs.
-- A worker that dies stops renewing, and once the lease expires another worker takes the run
-- over, resuming from its frontier. Times are milliseconds since the Unix epoch on the
-- database's clock, so workers on different machines agree on them.
CREATE TABLE crawl_leases (
    source_id   TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,       -- host:pid of the worker
    expires_ms  BIGINT NOT NULL
);

-- Per-host politeness across workers: the next moment any worker may send a request to a host.
-- Each request reserves its slot by moving it on by the host's interval.
CREATE TABLE host_slots (
    host     TEXT PRIMARY KEY,       -- host:port
    next_ms  BIGINT NOT NULL
);
