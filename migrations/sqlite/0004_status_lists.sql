-- Signed status lists, newest epoch served. Kept in the database so that every server
-- serves the same epoch; a rebuild inserts the next epoch and loses to a concurrent one.
CREATE TABLE status_lists (
    epoch      INTEGER PRIMARY KEY,
    issued_at  TEXT NOT NULL,
    audit_seq  INTEGER NOT NULL,
    body       BLOB NOT NULL
);
