-- Repost candidates are looked up in memory by the writer (reposts.rs), no longer in a band
-- table: finding and writing a post's four band rows was three quarters of the time spent
-- storing a page. The writer replays this log of fingerprints into memory once, then catches up
-- from it under the feed lock before each page transaction, so it sees what every other crawl
-- worker stored. A post's fingerprint is logged when the post is first stored and again
-- whenever its text changes; its latest row wins.
CREATE TABLE fingerprints (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id  BIGINT NOT NULL REFERENCES posts(id),
    simhash  BIGINT NOT NULL
);
INSERT INTO fingerprints (post_id, simhash)
  SELECT id, simhash FROM posts WHERE simhash IS NOT NULL ORDER BY id;
DROP TABLE post_bands;
