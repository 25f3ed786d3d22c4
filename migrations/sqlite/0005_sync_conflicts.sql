-- Offline events that could not be applied when they were uploaded, kept for officials: one
-- row per event (a re-upload of the same event does not add another).
CREATE TABLE sync_conflicts (
    id                 INTEGER PRIMARY KEY,
    shelter_public_id  BLOB NOT NULL,
    idempotency_key    TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    event_type         TEXT NOT NULL,
    device_time        TEXT NOT NULL,
    reason             TEXT NOT NULL,
    detail             TEXT NOT NULL,
    resident_public_id BLOB,
    received_at        TEXT NOT NULL,
    received_by        TEXT NOT NULL,
    UNIQUE (shelter_public_id, idempotency_key)
);
