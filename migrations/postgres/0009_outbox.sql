-- Messages for delivery gateways (SMS, voice) to drain: one row per resident and send.
CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel      TEXT NOT NULL,
    alert_id     BIGINT NOT NULL REFERENCES alerts (id),
    resident_id  BIGINT NOT NULL REFERENCES residents (id),
    phone        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (channel, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_recent ON outbox (alert_id, resident_id, created_at);
