-- A post that heads its own repost cluster keeps `cluster_id` NULL (its cluster is its own id),
-- so a new post is written once instead of inserted and then updated; only reposts name the
-- first post of their cluster.
UPDATE posts SET cluster_id = NULL WHERE cluster_id = id;
