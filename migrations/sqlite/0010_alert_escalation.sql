-- An alert may ask to be re-sent to whoever has not acknowledged it by a given time, once.
ALTER TABLE alerts ADD COLUMN escalate_at TEXT;
ALTER TABLE alerts ADD COLUMN escalated_at TEXT;
