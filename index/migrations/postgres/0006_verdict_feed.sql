-- The search feed's change sequence moves from `posts` to `verdicts` (see the feed in 0001).
-- Only posts with a verdict are indexed, and everything the index holds about a post changes
-- with its verdict row: a new or replaced verdict, a lead status (the triggers below), or a new
-- text, which deletes the verdict until the post is classified again. The verdict's own INSERT
-- takes the next value of `posts_changed_seq` (store.rs, `write_verdicts`, under the feed lock)
-- instead of a trigger that rewrote the post's row for every verdict stored.
DROP TRIGGER verdicts_feed_insert ON verdicts;
DROP TRIGGER verdicts_feed_update ON verdicts;
DROP TRIGGER leads_feed_insert ON leads;
DROP TRIGGER leads_feed_update ON leads;
DROP TRIGGER posts_feed_update ON posts;
DROP FUNCTION posts_feed_touch();
DROP FUNCTION posts_feed_update();

ALTER TABLE verdicts ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
UPDATE verdicts SET changed_seq = posts.changed_seq FROM posts WHERE posts.id = verdicts.post_id;
CREATE INDEX verdicts_changed ON verdicts(changed_seq);
ALTER TABLE posts DROP COLUMN changed_seq;

-- A lead's status changed: the post's verdict row takes the next value, under the feed lock so
-- values become visible in the order they are handed out.
CREATE FUNCTION verdicts_feed_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7265427);
    UPDATE verdicts SET changed_seq = nextval('posts_changed_seq') WHERE post_id = NEW.post_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leads_feed_insert AFTER INSERT ON leads
    FOR EACH ROW EXECUTE FUNCTION verdicts_feed_touch();
CREATE TRIGGER leads_feed_update AFTER UPDATE OF status ON leads
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION verdicts_feed_touch();
