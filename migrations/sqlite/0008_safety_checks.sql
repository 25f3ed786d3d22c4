-- "I am safe": a resident's latest word (or an official's record of a phone call). Being safe
-- with relatives is a fact the rules read.
CREATE TABLE safety_checks (
    resident_id INTEGER PRIMARY KEY REFERENCES residents (id),
    status      TEXT NOT NULL CHECK (status IN ('at_home', 'with_relatives')),
    note        TEXT,
    lat         REAL,
    lon         REAL,
    reported_at TEXT NOT NULL,
    reported_by TEXT NOT NULL
);
