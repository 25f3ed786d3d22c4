-- A resident's request to be deleted: carried out at once when nothing needs the record, else
-- kept here with what it waits for and carried out by a background task when that clears.
CREATE TABLE deletion_requests (
    resident_id  BIGINT PRIMARY KEY REFERENCES residents (id),
    requested_at TIMESTAMPTZ NOT NULL,
    waiting_for  TEXT NOT NULL,
    done_at      TIMESTAMPTZ
);
CREATE INDEX deletion_requests_open ON deletion_requests (requested_at) WHERE done_at IS NULL;
