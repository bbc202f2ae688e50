-- The store is the source of truth; the tantivy index is derived from it.
-- Timestamps are RFC 3339 text in UTC.

CREATE TABLE sources (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    legal_basis  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Evidence: what a server sent, never modified. A re-fetch adds a new row.
CREATE TABLE snapshots (
    id             INTEGER PRIMARY KEY,
    requested_url  TEXT NOT NULL,
    final_url      TEXT NOT NULL,
    status         INTEGER NOT NULL,
    headers        TEXT NOT NULL,          -- JSON array of [name, value]
    body_gzip      BLOB NOT NULL,          -- gzip of the body bytes
    body_len       INTEGER NOT NULL,
    sha256         TEXT NOT NULL,          -- of the uncompressed body bytes
    fetched_at     TEXT NOT NULL
);
CREATE TRIGGER snapshots_immutable BEFORE UPDATE ON snapshots
BEGIN SELECT RAISE(ABORT, 'snapshots are evidence and cannot be modified'); END;

CREATE TABLE posts (
    id              INTEGER PRIMARY KEY,
    source_id       TEXT NOT NULL,
    post_key        TEXT NOT NULL,         -- the site's id for the post, else its URL
    url             TEXT NOT NULL,
    title           TEXT,
    body            TEXT NOT NULL,
    author          TEXT,
    location        TEXT,
    published_at    TEXT,
    content_sha256  TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    removed_at      TEXT,
    UNIQUE (source_id, post_key)
);

-- Every time a post was seen, on which snapshot.
CREATE TABLE sightings (
    id              INTEGER PRIMARY KEY,
    post_id         INTEGER NOT NULL REFERENCES posts(id),
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots(id),
    seen_at         TEXT NOT NULL,
    content_sha256  TEXT NOT NULL
);
CREATE INDEX sightings_post ON sightings(post_id);

-- The current verdict of each post, with the rule-set version that produced it.
CREATE TABLE verdicts (
    post_id          INTEGER PRIMARY KEY REFERENCES posts(id),
    ruleset_version  TEXT NOT NULL,
    score            REAL NOT NULL,
    level            TEXT NOT NULL,
    flagged          INTEGER NOT NULL,
    lang             TEXT NOT NULL,
    kalbar           INTEGER NOT NULL,
    detail           TEXT NOT NULL,       -- the whole verdict as JSON
    classified_at    TEXT NOT NULL
);
CREATE INDEX verdicts_flagged ON verdicts(flagged, score);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('officer', 'analyst', 'admin')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    token_sha256  TEXT PRIMARY KEY,       -- the cookie holds the token; the store only its hash
    user_id       INTEGER NOT NULL REFERENCES users(id),
    csrf_token    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);

-- Accountability: who did what, when, from where. Append-only.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    detail  TEXT,
    remote  TEXT
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE crawl_runs (
    id           INTEGER PRIMARY KEY,
    source_id    TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    pages        INTEGER NOT NULL DEFAULT 0,
    posts_new    INTEGER NOT NULL DEFAULT 0,
    posts_seen   INTEGER NOT NULL DEFAULT 0,
    errors       TEXT NOT NULL DEFAULT '{}', -- JSON object: error kind -> count
    status       TEXT NOT NULL
);

CREATE TABLE fetch_errors (
    id         INTEGER PRIMARY KEY,
    source_id  TEXT NOT NULL,
    url        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    at         TEXT NOT NULL
);
