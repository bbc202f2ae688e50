-- Per-host crawler state kept between runs: each host's robots.txt as last fetched.
CREATE TABLE host_robots (
    host        TEXT PRIMARY KEY,     -- host:port
    body        BLOB NOT NULL,
    fetched_at  TEXT NOT NULL
);
