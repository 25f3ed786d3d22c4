-- Safeguards against insiders (issue 15).
-- * users: a `gateway` role (the SMS/voice gateway reads the outbox and nothing else), and who
--   created each account (an account never approves what its creator, or its creation, asked).
-- * approvals: besides overrides and rule sets, an official's fact change that makes a colour
--   worse, clearing an override two officials approved, and upholding an appeal that clears
--   one, all wait for a second official. `payload` is the pending change as JSON;
--   `resident_id` the one resident it concerns (for the jurisdiction filter).
-- * audit_anchors: the chain's head signed with the service's key, so a rewrite by someone
--   holding only the database shows.
-- SQLite cannot change a CHECK constraint: the two tables are rebuilt with their rows and ids.
-- Other tables point at them, so foreign keys are checked at the commit, not on the way.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE users_before AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    public_id    BLOB NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin', 'gateway')),
    name         TEXT NOT NULL,
    jurisdiction TEXT,
    created_at   TEXT NOT NULL,
    disabled_at  TEXT,
    created_by   INTEGER REFERENCES users (id)
);
INSERT INTO users (id, public_id, role, name, jurisdiction, created_at, disabled_at)
    SELECT id, public_id, role, name, jurisdiction, created_at, disabled_at FROM users_before;
DROP TABLE users_before;
-- Accounts admins made before this version: their creator, from the audit trail's
-- user.create entries (actor admin:<uuid>, subject <role>:<uuid>), so that the rule that an
-- account never decides for its creator or its creation holds for them too.
CREATE TEMP TABLE user_creations AS
    SELECT replace(substr(subject, instr(subject, ':') + 1), '-', '') AS made,
           replace(substr(actor, instr(actor, ':') + 1), '-', '') AS maker
    FROM audit_log WHERE action = 'user.create' AND actor LIKE 'admin:%';
UPDATE users SET created_by = (
    SELECT c.id FROM user_creations m JOIN users c ON lower(hex(c.public_id)) = m.maker
    WHERE m.made = lower(hex(users.public_id)) LIMIT 1);
DROP TABLE user_creations;

CREATE TABLE approvals_before AS SELECT * FROM approvals;
DROP TABLE approvals;
CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY,
    public_id       BLOB NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('override', 'rules', 'facts', 'clear_override', 'appeal')),
    colour          INTEGER CHECK (colour IN (0, 1, 2)),
    rule_version    BIGINT,
    reason_code     TEXT NOT NULL,
    reason_text     TEXT NOT NULL,
    expires_at      TEXT,
    requested_by    TEXT NOT NULL,
    requester_id    INTEGER NOT NULL REFERENCES users (id),
    requested_at    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      TEXT,
    decided_at      TEXT,
    decision_reason TEXT,
    residents       INTEGER NOT NULL,
    resident_id     INTEGER REFERENCES residents (id),
    payload         TEXT
);
INSERT INTO approvals (id, public_id, kind, colour, rule_version, reason_code, reason_text,
        expires_at, requested_by, requester_id, requested_at, status, decided_by, decided_at,
        decision_reason, residents)
    SELECT id, public_id, kind, colour, rule_version, reason_code, reason_text, expires_at,
        requested_by, requester_id, requested_at, status, decided_by, decided_at,
        decision_reason, residents FROM approvals_before;
DROP TABLE approvals_before;
CREATE INDEX approvals_resident ON approvals (resident_id);

CREATE TABLE audit_anchors (
    seq       BIGINT PRIMARY KEY,
    hash      BLOB NOT NULL,
    signed_at TEXT NOT NULL,
    cose      BLOB NOT NULL
);
