-- Registration that cannot be squatted or probed (issue 16, item 3).
-- * residents.doc_hash: the keyed hash of the identity document, on every record that names
--   it. `id_hash` (unique) stays the document's hash on the one record that holds it
--   (`standing = 'primary'`); a later registration of the same document is stored all the
--   same, as a `claim` whose `id_hash` is a per-record keyed value, so that registering never
--   tells anyone whether a document is known. An official who has checked the ID card takes
--   a record back; a second official retires the other records (`retired`: anonymised, codes
--   revoked in the status list).
-- * approvals: a new kind, `duplicates` (retiring the other records of a document). SQLite
--   cannot change a CHECK constraint: the table is rebuilt with its rows and ids, and foreign
--   keys pointing at it are checked at the commit.
PRAGMA defer_foreign_keys = ON;

ALTER TABLE residents ADD COLUMN doc_hash BLOB;
UPDATE residents SET doc_hash = id_hash;
ALTER TABLE residents ADD COLUMN standing TEXT NOT NULL DEFAULT 'primary'
    CHECK (standing IN ('primary', 'claim', 'retired'));
-- Covering: how many live records name a document is read from the index alone (every
-- scan asks, so that the desk sees a disputed document).
CREATE INDEX residents_doc ON residents (doc_hash, standing);
-- Taking a record back revokes every token its holder has.
CREATE INDEX access_tokens_resident ON access_tokens (resident_id);

CREATE TABLE approvals_before AS SELECT * FROM approvals;
DROP TABLE approvals;
CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY,
    public_id       BLOB NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('override', 'rules', 'facts', 'clear_override', 'appeal', 'duplicates')),
    colour          INTEGER CHECK (colour IN (0, 1, 2)),
    rule_version    BIGINT,
    reason_code     TEXT NOT NULL,
    reason_text     TEXT NOT NULL,
    expires_at      TEXT,
    requested_by    TEXT NOT NULL,
    requester_id    INTEGER NOT NULL REFERENCES users (id),
    requested_at    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      TEXT,
    decided_at      TEXT,
    decision_reason TEXT,
    residents       INTEGER NOT NULL,
    resident_id     INTEGER REFERENCES residents (id),
    payload         TEXT
);
INSERT INTO approvals SELECT * FROM approvals_before;
DROP TABLE approvals_before;
CREATE INDEX approvals_resident ON approvals (resident_id);
