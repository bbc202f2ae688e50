-- Repost candidates are looked up in memory by the writer (reposts.rs), no longer in a band
-- table: a post's four band rows landed on random leaves of a B-tree four times the size of
-- `posts`, and finding and writing them was three quarters of the time spent storing a page.
-- The writer replays this log of fingerprints into memory once, then catches up from it before
-- each transaction, so it also sees what other writers stored. A post's fingerprint is logged
-- when the post is first stored and again whenever its text changes; its latest row wins.
CREATE TABLE fingerprints (
    seq      INTEGER PRIMARY KEY,   -- rows are never deleted, so each new one is the highest
    post_id  INTEGER NOT NULL REFERENCES posts(id),
    simhash  INTEGER NOT NULL
);
INSERT INTO fingerprints (post_id, simhash)
  SELECT id, simhash FROM posts WHERE simhash IS NOT NULL ORDER BY id;
DROP TABLE post_bands;
