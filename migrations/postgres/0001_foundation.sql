-- Foundation: users and their tokens, residents, the audit chain, idempotency records.
-- Ids: a BIGINT key inside the database, a random UUID outside it.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id    UUID NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin')),
    name         TEXT NOT NULL,
    jurisdiction JSONB,
    created_at   TIMESTAMPTZ NOT NULL,
    disabled_at  TIMESTAMPTZ
);

CREATE TABLE user_shelters (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    shelter_id UUID NOT NULL,
    PRIMARY KEY (user_id, shelter_id)
);

CREATE TABLE residents (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id    UUID NOT NULL UNIQUE,
    status_index INTEGER NOT NULL UNIQUE,
    head_id      BIGINT REFERENCES residents (id),
    name         TEXT NOT NULL,
    id_type      TEXT NOT NULL,
    id_hash      BYTEA NOT NULL UNIQUE,
    id_last4     TEXT NOT NULL,
    phone        TEXT,
    address      TEXT,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    birth_year   INTEGER,
    needs        JSONB NOT NULL DEFAULT '[]',
    flags        JSONB NOT NULL DEFAULT '[]',
    source       TEXT NOT NULL CHECK (source IN ('self', 'import')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX residents_head ON residents (head_id);

CREATE TABLE access_tokens (
    token_hash  BYTEA PRIMARY KEY,
    user_id     BIGINT REFERENCES users (id),
    resident_id BIGINT REFERENCES residents (id),
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    CHECK ((user_id IS NULL) <> (resident_id IS NULL))
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

-- before/after are TEXT, not JSONB: the chain hashes the exact text, and JSONB re-orders keys.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    before    TEXT,
    after     TEXT,
    reason    TEXT,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- The chain's tip: one row, locked by each append until its transaction ends, so that
-- concurrent writers on several servers queue on it instead of forking the chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status       INTEGER,
    body         TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
