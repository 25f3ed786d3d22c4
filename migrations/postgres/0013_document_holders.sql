-- Registration that cannot be squatted or probed (issue 16, item 3): see
-- migrations/sqlite/0013 for what each part is for.
ALTER TABLE residents ADD COLUMN doc_hash BYTEA;
UPDATE residents SET doc_hash = id_hash;
ALTER TABLE residents ADD COLUMN standing TEXT NOT NULL DEFAULT 'primary'
    CHECK (standing IN ('primary', 'claim', 'retired'));
-- Covering: how many live records name a document is read from the index alone (every
-- scan asks, so that the desk sees a disputed document).
CREATE INDEX residents_doc ON residents (doc_hash, standing);
-- Taking a record back revokes every token its holder has.
CREATE INDEX access_tokens_resident ON access_tokens (resident_id);

ALTER TABLE approvals DROP CONSTRAINT approvals_kind_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_kind_check
    CHECK (kind IN ('override', 'rules', 'facts', 'clear_override', 'appeal', 'duplicates'));
