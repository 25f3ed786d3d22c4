-- Colour: rule sets, incidents, zones and their members, evacuation orders, overrides awaiting a
-- second official, appeals. Colours themselves are never stored: they are computed from these.

CREATE TABLE rule_sets (
    version      BIGINT PRIMARY KEY,
    document     TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ,
    active       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX rule_sets_one_active ON rule_sets (active) WHERE active;

CREATE TABLE incidents (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id    UUID NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    all_clear_at TIMESTAMPTZ,
    all_clear_by TEXT
);

CREATE TABLE zones (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id  UUID NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    geometry   JSONB NOT NULL,
    min_lon    DOUBLE PRECISION NOT NULL,
    min_lat    DOUBLE PRECISION NOT NULL,
    max_lon    DOUBLE PRECISION NOT NULL,
    max_lat    DOUBLE PRECISION NOT NULL,
    vertices   INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);

-- facts: the member's needs and flags packed as bits (domain::resident::pack_facts), kept
-- with the membership so that per-zone counts need not visit a million resident rows.
-- Written wherever needs, flags or memberships change.
CREATE TABLE zone_members (
    zone_id     BIGINT NOT NULL REFERENCES zones (id),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    facts       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (zone_id, resident_id)
);
CREATE INDEX zone_members_resident ON zone_members (resident_id);
-- The facts colours are computed from, by resident id: counting a zone's members reads this
-- small index instead of seeking into the wide residents table once per member. Keyed by the
-- sequential id, so inserts only append to it.
CREATE INDEX residents_facts ON residents (id, needs, flags, birth_year);

CREATE TABLE orders (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   UUID NOT NULL UNIQUE,
    zone_id     BIGINT NOT NULL REFERENCES zones (id),
    level       INTEGER NOT NULL CHECK (level IN (1, 2)),
    reason      TEXT NOT NULL,
    incident_id BIGINT REFERENCES incidents (id),
    issued_by   TEXT NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    lifted_at   TIMESTAMPTZ,
    lifted_by   TEXT
);
CREATE INDEX orders_zone ON orders (zone_id);

CREATE TABLE approvals (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id       UUID NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('override', 'rules')),
    -- override: the colour and its expiry; rules: the version to activate.
    colour          INTEGER CHECK (colour IN (0, 1, 2)),
    rule_version    BIGINT,
    reason_code     TEXT NOT NULL,
    reason_text     TEXT NOT NULL,
    expires_at      TIMESTAMPTZ,
    requested_by    TEXT NOT NULL,
    requester_id    BIGINT NOT NULL REFERENCES users (id),
    requested_at    TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      TEXT,
    decided_at      TIMESTAMPTZ,
    decision_reason TEXT,
    residents       INTEGER NOT NULL
);

CREATE TABLE overrides (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   UUID NOT NULL UNIQUE,
    approval_id BIGINT NOT NULL REFERENCES approvals (id),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    cleared_at  TIMESTAMPTZ,
    cleared_by  TEXT
);
CREATE INDEX overrides_resident ON overrides (resident_id);
CREATE INDEX overrides_approval ON overrides (approval_id);

CREATE TABLE appeals (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id       UUID NOT NULL UNIQUE,
    resident_id     BIGINT NOT NULL REFERENCES residents (id),
    text            TEXT NOT NULL,
    colour          INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'upheld', 'rejected')),
    decided_by      TEXT,
    decided_at      TIMESTAMPTZ,
    decision_reason TEXT
);
CREATE INDEX appeals_status ON appeals (status, created_at);
