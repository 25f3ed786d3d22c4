-- Hazard reports from residents, with an optional photo, moved through a workflow by officials.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    public_id   BLOB NOT NULL UNIQUE,
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    category    TEXT NOT NULL,
    text        TEXT NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    urgent      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT,
    photo       BLOB,
    photo_type  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX reports_open ON reports (urgent DESC, created_at DESC);
