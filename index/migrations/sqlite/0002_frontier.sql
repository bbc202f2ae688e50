-- The frontier of each source's current run, so a crashed run resumes where it stopped.
CREATE TABLE crawl_frontier (
    source_id   TEXT NOT NULL,
    url         TEXT NOT NULL,
    depth       INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (source_id, url)
);

-- Cache validators of pages that held posts, for conditional GET on the next run.
CREATE TABLE http_validators (
    source_id      TEXT NOT NULL,
    url            TEXT NOT NULL,
    etag           TEXT,
    last_modified  TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (source_id, url)
);

CREATE INDEX posts_source_url ON posts(source_id, url);
