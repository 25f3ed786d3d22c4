-- Privacy over a season (issue 21): crypto-shredding keys for the audit chain's personal
-- values, and what the retention task needs to anonymise an incident after its all-clear.

-- One key per owner (`resident:<id>`, `season:<year>`); deleting the row forgets every value
-- sealed under it. Kept outside the chain, which hashes only the ciphertext.
CREATE TABLE audit_keys (
    owner      TEXT PRIMARY KEY,
    key        BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
-- The chain hashes entries had before their personal values were sealed, so that heads signed
-- before still prove what they signed (see the `audit.reseal` entry).
CREATE TABLE audit_legacy (
    seq  BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);
-- A chain written before this version holds personal values in the clear until it is resealed.
INSERT INTO meta (key, value)
SELECT 'audit_sealed', CASE WHEN EXISTS (SELECT 1 FROM audit_log) THEN '0' ELSE '1' END;

ALTER TABLE incidents ADD COLUMN anonymised_at TIMESTAMPTZ;

-- An anonymised alert keeps its counts here and loses its recipient list.
ALTER TABLE alerts ADD COLUMN anonymised_at TIMESTAMPTZ;
ALTER TABLE alerts ADD COLUMN acknowledged_count INTEGER;
ALTER TABLE alerts ADD COLUMN median_ack_secs BIGINT;
CREATE TABLE alert_zone_counts (
    alert_id       BIGINT NOT NULL REFERENCES alerts (id),
    zone_public_id UUID,
    zone_name      TEXT,
    recipients     BIGINT NOT NULL,
    acknowledged   BIGINT NOT NULL,
    reached        BIGINT NOT NULL
);
CREATE INDEX alert_zone_counts_alert ON alert_zone_counts (alert_id);

-- Stays, relief and reports outlive the person: shelter, day and counts stay.
ALTER TABLE stays ALTER COLUMN resident_id DROP NOT NULL;
ALTER TABLE distributions ALTER COLUMN resident_id DROP NOT NULL;
ALTER TABLE reports ALTER COLUMN resident_id DROP NOT NULL;

-- The chain stays append-only, except for the one reseal of entries written before sealing
-- existed, which says so for its own transaction (`SET LOCAL safecode.audit_reseal = 'on'`)
-- and may change only the sealed fields and links.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('safecode.audit_reseal', true) = 'on'
       AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
       AND NEW.action = OLD.action AND NEW.subject IS NOT DISTINCT FROM OLD.subject THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
