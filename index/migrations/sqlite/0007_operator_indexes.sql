-- Lookups of the admin and operator pages: each user's last login (from the audit log), and each
-- source's latest runs and fetch errors, without scanning whole tables that only grow.
CREATE INDEX audit_log_action_actor ON audit_log(action, actor, at);
CREATE INDEX crawl_runs_source ON crawl_runs(source_id, started_at);
CREATE INDEX fetch_errors_source ON fetch_errors(source_id, at);
