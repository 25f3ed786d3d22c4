-- Privacy over a season (issue 21): crypto-shredding keys for the audit chain's personal
-- values, and what the retention task needs to anonymise an incident after its all-clear.

-- One key per owner (`resident:<id>`, `season:<year>`); deleting the row forgets every value
-- sealed under it. Kept outside the chain, which hashes only the ciphertext.
CREATE TABLE audit_keys (
    owner      TEXT PRIMARY KEY,
    key        BLOB NOT NULL,
    created_at TEXT NOT NULL
);
-- The chain hashes entries had before their personal values were sealed, so that heads signed
-- before still prove what they signed (see the `audit.reseal` entry).
CREATE TABLE audit_legacy (
    seq  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
-- A chain written before this version holds personal values in the clear until it is resealed.
INSERT INTO meta (key, value)
SELECT 'audit_sealed', CASE WHEN EXISTS (SELECT 1 FROM audit_log) THEN '0' ELSE '1' END;

ALTER TABLE incidents ADD COLUMN anonymised_at TEXT;

-- An anonymised alert keeps its counts here and loses its recipient list.
ALTER TABLE alerts ADD COLUMN anonymised_at TEXT;
ALTER TABLE alerts ADD COLUMN acknowledged_count INTEGER;
ALTER TABLE alerts ADD COLUMN median_ack_secs INTEGER;
CREATE TABLE alert_zone_counts (
    alert_id       INTEGER NOT NULL REFERENCES alerts (id),
    zone_public_id BLOB,
    zone_name      TEXT,
    recipients     INTEGER NOT NULL,
    acknowledged   INTEGER NOT NULL,
    reached        INTEGER NOT NULL
);
CREATE INDEX alert_zone_counts_alert ON alert_zone_counts (alert_id);

-- Stays, relief and reports outlive the person: shelter, day and counts stay. SQLite cannot
-- drop NOT NULL in place; the tables are rebuilt (nothing references them).
CREATE TABLE stays_new (
    id               INTEGER PRIMARY KEY,
    public_id        BLOB NOT NULL UNIQUE,
    shelter_id       INTEGER NOT NULL REFERENCES shelters (id),
    resident_id      INTEGER REFERENCES residents (id),
    colour_at_entry  INTEGER NOT NULL,
    checked_in_at    TEXT NOT NULL,
    checked_in_by    TEXT NOT NULL,
    checked_out_at   TEXT,
    checked_out_by   TEXT,
    checkout_reason  TEXT CHECK (checkout_reason IN ('returned_home', 'moved_to_relatives', 'transferred', 'hospital')),
    transferred_to   INTEGER REFERENCES shelters (id)
);
INSERT INTO stays_new SELECT * FROM stays;
DROP TABLE stays;
ALTER TABLE stays_new RENAME TO stays;
CREATE UNIQUE INDEX stays_one_open ON stays (resident_id) WHERE checked_out_at IS NULL;
CREATE INDEX stays_shelter_open ON stays (shelter_id) WHERE checked_out_at IS NULL;
CREATE INDEX stays_shelter_entry ON stays (shelter_id, checked_in_at);
CREATE INDEX stays_resident ON stays (resident_id, checked_in_at);

CREATE TABLE distributions_new (
    id           INTEGER PRIMARY KEY,
    public_id    BLOB NOT NULL UNIQUE,
    shelter_id   INTEGER NOT NULL REFERENCES shelters (id),
    item_id      INTEGER NOT NULL REFERENCES relief_items (id),
    resident_id  INTEGER REFERENCES residents (id),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    day          TEXT NOT NULL,
    given_at     TEXT NOT NULL,
    given_by     TEXT NOT NULL
);
INSERT INTO distributions_new SELECT * FROM distributions;
DROP TABLE distributions;
ALTER TABLE distributions_new RENAME TO distributions;
CREATE INDEX distributions_shelter_day ON distributions (shelter_id, day, id);
CREATE INDEX distributions_resident ON distributions (resident_id, given_at);

CREATE TABLE reports_new (
    id          INTEGER PRIMARY KEY,
    public_id   BLOB NOT NULL UNIQUE,
    resident_id INTEGER REFERENCES residents (id),
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
INSERT INTO reports_new SELECT * FROM reports;
DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;
CREATE INDEX reports_open ON reports (urgent DESC, created_at DESC);

-- The chain stays append-only, except for the one reseal of entries written before sealing
-- existed, which marks its own transaction in `meta` and may change only the sealed fields
-- and links.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'audit_resealing')
  OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
  OR NEW.action IS NOT OLD.action OR NEW.subject IS NOT OLD.subject
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
