-- Sign-in that fits the field (issue 18).
-- * users: a sign-in name, an Argon2id password hash and a TOTP secret for people; failed
--   attempts and a short lock for the account; `device_shelter` marks a desk phone (a staff
--   account bound to that one shelter, made by scanning an enrolment code).
-- * access_tokens: a `kind` (a bearer token for machines and residents, a page session carried
--   in a cookie, a desk phone's credential), an absolute expiry and when it was last used (a
--   session's idle timeout, a device's "last seen").
-- * setup_codes: one-time links that let a person choose a password and enrol their second
--   factor (a new account, or one an admin reset).
-- * recovery_codes: hashed, each used once.
-- * device_enrolments: one-time codes shown as a QR code on /ops, valid for minutes.
-- * passkeys: WebAuthn credentials (their public key and counters as webauthn_rp encodes
--   them), and the ceremonies in flight (one row per challenge, taken once).
ALTER TABLE users ADD COLUMN login TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;
-- Who last reset the account's sign-in, and when: a reset hands the setup link to the one who
-- asked, so for the two-person rule it counts like creating the account.
ALTER TABLE users ADD COLUMN reset_by INTEGER REFERENCES users (id);
ALTER TABLE users ADD COLUMN reset_at TEXT;
ALTER TABLE users ADD COLUMN device_shelter BLOB;
CREATE UNIQUE INDEX users_login ON users (login);
CREATE INDEX users_device_shelter ON users (device_shelter);

ALTER TABLE access_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'bearer'
    CHECK (kind IN ('bearer', 'session', 'device'));
ALTER TABLE access_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE access_tokens ADD COLUMN last_used_at TEXT;

CREATE TABLE setup_codes (
    code_hash   BLOB PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    totp_secret BLOB,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX setup_codes_user ON setup_codes (user_id);

CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id),
    code_hash BLOB NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE device_enrolments (
    code_hash    BLOB PRIMARY KEY,
    shelter_id   BLOB NOT NULL,
    name         TEXT NOT NULL,
    device_hours INTEGER NOT NULL,
    created_by   INTEGER NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);

CREATE TABLE passkeys (
    credential_id BLOB PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    static_state  BLOB NOT NULL,
    dynamic_state BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE passkey_ceremonies (
    challenge  BLOB PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('register', 'sign_in')),
    user_id    INTEGER REFERENCES users (id),
    state      BLOB NOT NULL,
    expires_at TEXT NOT NULL
);

-- The status list revokes the slots of retired records on every build: a partial index keeps
-- that a look-up of the few retired rows instead of a second pass over every resident.
CREATE INDEX residents_retired ON residents (status_index) WHERE standing = 'retired';
