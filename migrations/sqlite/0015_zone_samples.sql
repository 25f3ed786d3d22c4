-- Each zone's counts every few minutes, for the console's chart of the last hours. Several
-- servers may sample at once: the period's start is the key, the first writer wins.
CREATE TABLE zone_samples (
    zone_id             INTEGER NOT NULL REFERENCES zones (id),
    at                  TEXT NOT NULL,
    must_move           INTEGER NOT NULL,
    sheltered           INTEGER NOT NULL,
    safe_with_relatives INTEGER NOT NULL,
    not_reached         INTEGER NOT NULL,
    PRIMARY KEY (zone_id, at)
);
CREATE INDEX zone_samples_at ON zone_samples (at);
