-- Bearer tokens for machine clients (other agencies' systems). A token acts as its user, with the
-- user's role; the store keeps only the SHA-256 of the token, which is shown once when created.
-- Revoked tokens stay listed (revoked_at set) so the audit log's "via API token N" stays readable.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    token_sha256  TEXT NOT NULL UNIQUE,
    label         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
