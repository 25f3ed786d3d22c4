-- Signed status lists, newest epoch served. Kept in the database so that every server
-- serves the same epoch; a rebuild inserts the next epoch and loses to a concurrent one.
CREATE TABLE status_lists (
    epoch      BIGINT PRIMARY KEY,
    issued_at  TIMESTAMPTZ NOT NULL,
    audit_seq  BIGINT NOT NULL,
    body       BYTEA NOT NULL
);
