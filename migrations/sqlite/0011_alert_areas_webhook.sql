-- Alerts may target a drawn GeoJSON area as well as (or instead of) zones; a resident
-- reached through the area alone has no zone, so a recipient's zone becomes optional.
-- `areas` keeps each target's name and geometry as they were when sent ([{desc, geometry}]),
-- so the CAP message shows what was sent even after a zone is redrawn.
ALTER TABLE alerts ADD COLUMN areas TEXT;

CREATE TABLE alert_recipients_next (
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    resident_id     INTEGER NOT NULL REFERENCES residents (id),
    zone_id         INTEGER REFERENCES zones (id),
    acknowledged_at TEXT,
    PRIMARY KEY (alert_id, resident_id)
);
INSERT INTO alert_recipients_next (alert_id, resident_id, zone_id, acknowledged_at)
    SELECT alert_id, resident_id, zone_id, acknowledged_at FROM alert_recipients;
DROP TABLE alert_recipients;
ALTER TABLE alert_recipients_next RENAME TO alert_recipients;
CREATE INDEX alert_recipients_resident ON alert_recipients (resident_id, alert_id);

-- The webhook channel is delivered by the server itself, with retries: how often it was
-- tried, when to try next, and when it was given up.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN failed_at TEXT;
