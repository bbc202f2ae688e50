-- An officer's judgement of a lead: is it really illegal recruitment (a true positive) or not (a
-- false positive)? Kept with the lead, with who judged and when; every judgement, including each
-- change of mind, is also a `judge` entry in the append-only lead history. The labelled corpus
-- prefers it to the label the lead's status implies.
ALTER TABLE leads ADD COLUMN judgement TEXT CHECK (judgement IN ('illegal_recruitment', 'not_illegal'));
ALTER TABLE leads ADD COLUMN judged_by TEXT;
ALTER TABLE leads ADD COLUMN judged_at TEXT;
