-- The search feed's change sequence moves from `posts` to `verdicts` (see 0009 for the feed).
-- Only posts with a verdict are indexed, and everything the index holds about a post changes
-- with its verdict row: a new or replaced verdict, a lead status (the triggers below), or a new
-- text, which deletes the verdict until the post is classified again. Setting the sequence in
-- the verdict's own INSERT (store.rs, `write_verdicts`) replaces a trigger that rewrote the
-- post's row and moved its `posts_changed` entry for every verdict stored, and new posts no
-- longer fill that index with zeros (BENCHMARKS.md has the before and after).
--
-- The last value handed out lives in `feed_counter`, not in MAX(changed_seq): deleting the
-- verdict holding the highest value must not let the next change reuse a value an index may
-- already have passed.
DROP TRIGGER verdicts_feed_insert;
DROP TRIGGER verdicts_feed_update;
DROP TRIGGER leads_feed_insert;
DROP TRIGGER leads_feed_update;
DROP TRIGGER posts_feed_update;

CREATE TABLE feed_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);
INSERT INTO feed_counter (id, seq) SELECT 1, COALESCE(MAX(changed_seq), 0) FROM posts;

ALTER TABLE verdicts ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
UPDATE verdicts SET changed_seq = (SELECT changed_seq FROM posts WHERE posts.id = verdicts.post_id);
CREATE INDEX verdicts_changed ON verdicts(changed_seq);
DROP INDEX posts_changed;
ALTER TABLE posts DROP COLUMN changed_seq;

CREATE TRIGGER leads_feed_insert AFTER INSERT ON leads
BEGIN
  UPDATE feed_counter SET seq = seq + 1;
  UPDATE verdicts SET changed_seq = (SELECT seq FROM feed_counter) WHERE post_id = NEW.post_id;
END;

CREATE TRIGGER leads_feed_update AFTER UPDATE OF status ON leads
WHEN OLD.status IS NOT NEW.status
BEGIN
  UPDATE feed_counter SET seq = seq + 1;
  UPDATE verdicts SET changed_seq = (SELECT seq FROM feed_counter) WHERE post_id = NEW.post_id;
END;
