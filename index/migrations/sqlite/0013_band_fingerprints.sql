-- Repost candidates are read from the bands alone: each band row carries its post's
-- fingerprint, so finding a new post's near-duplicates reads the few rows of its four band
-- values, stored side by side (a table clustered on its key), instead of a post row for every
-- candidate scattered over the whole posts table (at a million posts, ~60 candidates a post,
-- three quarters of the time spent storing a page).
CREATE TABLE post_bands_new (
    band         INTEGER NOT NULL,
    value        INTEGER NOT NULL,
    post_id      INTEGER NOT NULL REFERENCES posts(id),
    fingerprint  INTEGER NOT NULL,   -- the post's SimHash (posts.simhash)
    PRIMARY KEY (band, value, post_id)
) WITHOUT ROWID;
INSERT INTO post_bands_new (band, value, post_id, fingerprint)
  SELECT b.band, b.value, b.post_id, p.simhash
  FROM post_bands b JOIN posts p ON p.id = b.post_id
  WHERE p.simhash IS NOT NULL;
DROP TABLE post_bands;
ALTER TABLE post_bands_new RENAME TO post_bands;
CREATE INDEX post_bands_post ON post_bands(post_id);
