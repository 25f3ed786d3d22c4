-- Foundation: users and their tokens, residents, the audit chain, idempotency records.
-- Ids: an INTEGER key inside the database, a random UUID (16-byte BLOB) outside it.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    public_id    BLOB NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin')),
    name         TEXT NOT NULL,
    jurisdiction TEXT,
    created_at   TEXT NOT NULL,
    disabled_at  TEXT
);

CREATE TABLE user_shelters (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    shelter_id BLOB NOT NULL,
    PRIMARY KEY (user_id, shelter_id)
);

CREATE TABLE residents (
    id           INTEGER PRIMARY KEY,
    public_id    BLOB NOT NULL UNIQUE,
    status_index INTEGER NOT NULL UNIQUE,
    head_id      INTEGER REFERENCES residents (id),
    name         TEXT NOT NULL,
    id_type      TEXT NOT NULL,
    id_hash      BLOB NOT NULL UNIQUE,
    id_last4     TEXT NOT NULL,
    phone        TEXT,
    address      TEXT,
    lat          REAL,
    lon          REAL,
    birth_year   INTEGER,
    needs        TEXT NOT NULL DEFAULT '[]',
    flags        TEXT NOT NULL DEFAULT '[]',
    source       TEXT NOT NULL CHECK (source IN ('self', 'import')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX residents_head ON residents (head_id);

CREATE TABLE access_tokens (
    token_hash  BLOB PRIMARY KEY,
    user_id     INTEGER REFERENCES users (id),
    resident_id INTEGER REFERENCES residents (id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    CHECK ((user_id IS NULL) <> (resident_id IS NULL))
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    before    TEXT,
    after     TEXT,
    reason    TEXT,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- The chain's tip: one row, updated in the same transaction as each append, so that
-- concurrent writers queue on it instead of forking the chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER,
    body         TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
