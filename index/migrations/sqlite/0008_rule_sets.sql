-- Rule sets activated by analysts from the dashboard. Append-only: the newest row is the active
-- rule set, the older rows its history. Each row keeps every rule file as it was activated, so a
-- restarted `patroli run` loads exactly what the analyst checked, and any past verdict's
-- rule-set version can be traced to its rules.
CREATE TABLE rule_sets (
    id                INTEGER PRIMARY KEY,
    version           TEXT NOT NULL UNIQUE,  -- recorded on every verdict, so never reused
    previous_version  TEXT NOT NULL,         -- the rule set it replaced
    changed_file      TEXT NOT NULL,         -- the rule file replaced or added
    activated_by      TEXT NOT NULL,
    activated_at      TEXT NOT NULL
);
CREATE TRIGGER rule_sets_no_update BEFORE UPDATE ON rule_sets
BEGIN SELECT RAISE(ABORT, 'activated rule sets are history and cannot be modified'); END;
CREATE TRIGGER rule_sets_no_delete BEFORE DELETE ON rule_sets
BEGIN SELECT RAISE(ABORT, 'activated rule sets are history and cannot be deleted'); END;

CREATE TABLE rule_set_files (
    rule_set_id  INTEGER NOT NULL REFERENCES rule_sets(id),
    name         TEXT NOT NULL,              -- bare file name, e.g. route.toml
    text         TEXT NOT NULL,
    PRIMARY KEY (rule_set_id, name)
);
CREATE TRIGGER rule_set_files_no_update BEFORE UPDATE ON rule_set_files
BEGIN SELECT RAISE(ABORT, 'activated rule sets are history and cannot be modified'); END;
CREATE TRIGGER rule_set_files_no_delete BEFORE DELETE ON rule_set_files
BEGIN SELECT RAISE(ABORT, 'activated rule sets are history and cannot be deleted'); END;
