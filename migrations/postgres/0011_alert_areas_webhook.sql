-- Alerts may target a drawn GeoJSON area as well as (or instead of) zones; a resident
-- reached through the area alone has no zone, so a recipient's zone becomes optional.
-- `areas` keeps each target's name and geometry as they were when sent ([{desc, geometry}]),
-- so the CAP message shows what was sent even after a zone is redrawn.
ALTER TABLE alerts ADD COLUMN areas JSONB;
ALTER TABLE alert_recipients ALTER COLUMN zone_id DROP NOT NULL;

-- The webhook channel is delivered by the server itself, with retries: how often it was
-- tried, when to try next, and when it was given up.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN failed_at TIMESTAMPTZ;
