-- The search index follows the store by a change sequence: every change to what the index
-- holds about a post (its text, its verdict, its lead status) gives the post a new, higher
-- `changed_seq`. Each index remembers the highest sequence it has applied (its watermark, kept
-- in the index's own commit) and catches up from there, after a crash or on another node.
ALTER TABLE posts ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
UPDATE posts SET changed_seq = id;
CREATE INDEX posts_changed ON posts(changed_seq);

CREATE TRIGGER posts_feed_update AFTER UPDATE OF url, title, body, author, published_at ON posts
WHEN OLD.url IS NOT NEW.url OR OLD.title IS NOT NEW.title OR OLD.body IS NOT NEW.body
  OR OLD.author IS NOT NEW.author OR OLD.published_at IS NOT NEW.published_at
BEGIN
  UPDATE posts SET changed_seq = (SELECT MAX(changed_seq) FROM posts) + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER verdicts_feed_insert AFTER INSERT ON verdicts
BEGIN
  UPDATE posts SET changed_seq = (SELECT MAX(changed_seq) FROM posts) + 1 WHERE id = NEW.post_id;
END;

CREATE TRIGGER verdicts_feed_update AFTER UPDATE ON verdicts
BEGIN
  UPDATE posts SET changed_seq = (SELECT MAX(changed_seq) FROM posts) + 1 WHERE id = NEW.post_id;
END;

CREATE TRIGGER leads_feed_insert AFTER INSERT ON leads
BEGIN
  UPDATE posts SET changed_seq = (SELECT MAX(changed_seq) FROM posts) + 1 WHERE id = NEW.post_id;
END;

CREATE TRIGGER leads_feed_update AFTER UPDATE OF status ON leads
WHEN OLD.status IS NOT NEW.status
BEGIN
  UPDATE posts SET changed_seq = (SELECT MAX(changed_seq) FROM posts) + 1 WHERE id = NEW.post_id;
END;

-- A post's bands are replaced when its text changes; without this the delete scans every band.
CREATE INDEX post_bands_post ON post_bands(post_id);

-- Repost bands are now four of 16 bits (see simhash.rs): recompute them from the fingerprints.
DELETE FROM post_bands;
INSERT INTO post_bands (post_id, band, value)
  SELECT id, 0, simhash & 65535 FROM posts WHERE simhash IS NOT NULL
  UNION ALL SELECT id, 1, (simhash >> 16) & 65535 FROM posts WHERE simhash IS NOT NULL
  UNION ALL SELECT id, 2, (simhash >> 32) & 65535 FROM posts WHERE simhash IS NOT NULL
  UNION ALL SELECT id, 3, (simhash >> 48) & 65535 FROM posts WHERE simhash IS NOT NULL;
