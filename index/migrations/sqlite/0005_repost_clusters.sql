-- Repost clusters: each post's SimHash, its bands for finding near-duplicates, and the cluster
-- it joined (the id of the cluster's first post).
ALTER TABLE posts ADD COLUMN simhash INTEGER;
ALTER TABLE posts ADD COLUMN cluster_id INTEGER;
CREATE INDEX posts_cluster ON posts(cluster_id);
CREATE TABLE post_bands (
    post_id  INTEGER NOT NULL REFERENCES posts(id),
    band     INTEGER NOT NULL,
    value    INTEGER NOT NULL,
    PRIMARY KEY (band, value, post_id)
);
