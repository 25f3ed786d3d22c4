-- Safeguards against insiders (issue 15): see migrations/sqlite/0012 for what each part is for.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('staff', 'official', 'admin', 'gateway'));
ALTER TABLE users ADD COLUMN created_by BIGINT REFERENCES users (id);
-- Accounts admins made before this version: their creator, from the audit trail.
UPDATE users u SET created_by = c.id
    FROM audit_log a JOIN users c ON c.public_id::text = substr(a.actor, strpos(a.actor, ':') + 1)
    WHERE a.action = 'user.create' AND a.actor LIKE 'admin:%'
      AND substr(a.subject, strpos(a.subject, ':') + 1) = u.public_id::text;

ALTER TABLE approvals DROP CONSTRAINT approvals_kind_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_kind_check
    CHECK (kind IN ('override', 'rules', 'facts', 'clear_override', 'appeal'));
ALTER TABLE approvals ADD COLUMN resident_id BIGINT REFERENCES residents (id);
ALTER TABLE approvals ADD COLUMN payload TEXT;
CREATE INDEX approvals_resident ON approvals (resident_id);

CREATE TABLE audit_anchors (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL,
    cose      BYTEA NOT NULL
);
