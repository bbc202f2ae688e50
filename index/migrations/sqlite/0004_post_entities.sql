-- Identifiers found in posts (phone numbers in E.164, Telegram and Instagram handles, e-mail
-- addresses), for recruiter networks: posts that share one are linked.
CREATE TABLE post_entities (
    post_id  INTEGER NOT NULL REFERENCES posts(id),
    kind     TEXT NOT NULL,      -- phone (also WhatsApp links), telegram, instagram, email
    value    TEXT NOT NULL,
    PRIMARY KEY (post_id, kind, value)
);
CREATE INDEX post_entities_value ON post_entities(kind, value);
