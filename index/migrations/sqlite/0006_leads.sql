-- The officers' workflow on a post: its current lead status and the history of every change.
CREATE TABLE leads (
    post_id        INTEGER PRIMARY KEY REFERENCES posts(id),
    status         TEXT NOT NULL CHECK (status IN ('new', 'in_review', 'escalated', 'closed')),
    escalated_to   TEXT,      -- investigating unit, immigration, migrant-worker protection office
    closed_reason  TEXT,      -- taken down, case opened, false positive, duplicate
    assignee       TEXT,
    updated_at     TEXT NOT NULL
);

-- Append-only, like the audit log: what happened to a lead, by whom, when.
CREATE TABLE lead_events (
    id       INTEGER PRIMARY KEY,
    post_id  INTEGER NOT NULL REFERENCES posts(id),
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,       -- status, assign, note
    detail   TEXT NOT NULL
);
CREATE INDEX lead_events_post ON lead_events(post_id, id);
CREATE TRIGGER lead_events_no_update BEFORE UPDATE ON lead_events
BEGIN SELECT RAISE(ABORT, 'lead history is append-only'); END;
CREATE TRIGGER lead_events_no_delete BEFORE DELETE ON lead_events
BEGIN SELECT RAISE(ABORT, 'lead history is append-only'); END;
