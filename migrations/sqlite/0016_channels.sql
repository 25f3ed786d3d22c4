-- Alerts through the channels people already use (SMS gateway, DingTalk group robots, email),
-- in the reader's language, with escalation in steps and one-tap acknowledgement links.

-- The language a resident reads alerts in; an alert's own language and its translation
-- ({language, headline, description, instruction}).
ALTER TABLE residents ADD COLUMN language TEXT NOT NULL DEFAULT 'zh';
ALTER TABLE alerts ADD COLUMN language TEXT NOT NULL DEFAULT 'zh';
ALTER TABLE alerts ADD COLUMN translation TEXT;
-- Escalation runs in steps (1 SMS, 2 voice, 3 the village's contacts) this far apart;
-- `escalate_at` is the next step's time, `escalated_at` when the last step ran.
ALTER TABLE alerts ADD COLUMN escalate_every_secs INTEGER;
ALTER TABLE alerts ADD COLUMN escalation_step INTEGER NOT NULL DEFAULT 0;

-- Reached: a gateway's receipt said the message arrived. Apart from acknowledged.
ALTER TABLE alert_recipients ADD COLUMN reached_at TEXT;
-- A message not sent because its recipient acknowledged first.
ALTER TABLE outbox ADD COLUMN cancelled_at TEXT;

-- Each SMS part a gateway accepted, under the gateway's own message id: a part accepted is
-- never sent again, and a receipt repeated by the gateway counts once.
CREATE TABLE provider_messages (
    channel     TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    part        INTEGER NOT NULL,
    accepted_at TEXT NOT NULL,
    receipt_at  TEXT,
    PRIMARY KEY (channel, provider_id)
);
CREATE UNIQUE INDEX provider_messages_part ON provider_messages (outbox_id, part);

-- One-tap acknowledgement links: only the token's SHA-256 is kept.
CREATE TABLE ack_links (
    token_hash  BLOB PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX ack_links_recipient ON ack_links (alert_id, resident_id);

-- Where a village's (zone's) or an incident's officials are reached: a DingTalk group robot
-- or an email address, set up by officials.
CREATE TABLE alert_contacts (
    id          INTEGER PRIMARY KEY,
    public_id   BLOB NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('dingtalk', 'email')),
    name        TEXT NOT NULL,
    zone_id     INTEGER REFERENCES zones (id),
    incident_id BLOB,
    address     TEXT NOT NULL,
    secret      TEXT,
    language    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_at  TEXT
);

-- Messages to contacts, with the outbox's retry state; one per contact, alert and purpose.
CREATE TABLE contact_messages (
    id              INTEGER PRIMARY KEY,
    contact_id      INTEGER NOT NULL REFERENCES alert_contacts (id),
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    purpose         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT,
    failed_at       TEXT,
    UNIQUE (contact_id, alert_id, purpose)
);
CREATE INDEX contact_messages_pending ON contact_messages (id) WHERE delivered_at IS NULL AND failed_at IS NULL;
