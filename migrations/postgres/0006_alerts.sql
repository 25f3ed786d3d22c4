-- Alerts and who they were sent to: the recipients are the zones' members when the alert
-- was sent, written in one statement, each with when they acknowledged it.
CREATE TABLE alerts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     UUID NOT NULL UNIQUE,
    msg_type      TEXT NOT NULL,
    references_id BIGINT REFERENCES alerts (id),
    category      TEXT NOT NULL,
    event         TEXT NOT NULL,
    response_type TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    severity      TEXT NOT NULL,
    certainty     TEXT NOT NULL,
    headline      TEXT NOT NULL,
    description   TEXT NOT NULL,
    instruction   TEXT NOT NULL,
    zones         JSONB NOT NULL,
    expires_at    TIMESTAMPTZ,
    incident_id   UUID,
    recipients    INTEGER NOT NULL DEFAULT 0,
    sent_by       TEXT NOT NULL,
    sent_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE alert_recipients (
    alert_id        BIGINT NOT NULL REFERENCES alerts (id),
    resident_id     BIGINT NOT NULL REFERENCES residents (id),
    zone_id         BIGINT NOT NULL REFERENCES zones (id),
    acknowledged_at TIMESTAMPTZ,
    PRIMARY KEY (alert_id, resident_id)
);
CREATE INDEX alert_recipients_resident ON alert_recipients (resident_id, alert_id);
