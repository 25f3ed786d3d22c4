-- Shelters, stays, relief. Every limit is one statement: occupancy moves only by a
-- conditional UPDATE (occupancy + n <= capacity), a resident has at most one open stay (a
-- partial unique index), and relief usage per person or household per day only grows by an
-- upsert that refuses to pass the quota.

CREATE TABLE shelters (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     UUID NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    lat           DOUBLE PRECISION NOT NULL,
    lon           DOUBLE PRECISION NOT NULL,
    capacity      INTEGER NOT NULL CHECK (capacity >= 0),
    occupancy     INTEGER NOT NULL DEFAULT 0 CHECK (occupancy >= 0),
    accessibility JSONB NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE stays (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id        UUID NOT NULL UNIQUE,
    shelter_id       BIGINT NOT NULL REFERENCES shelters (id),
    resident_id      BIGINT NOT NULL REFERENCES residents (id),
    colour_at_entry  INTEGER NOT NULL,
    checked_in_at    TIMESTAMPTZ NOT NULL,
    checked_in_by    TEXT NOT NULL,
    checked_out_at   TIMESTAMPTZ,
    checked_out_by   TEXT,
    checkout_reason  TEXT CHECK (checkout_reason IN ('returned_home', 'moved_to_relatives', 'transferred', 'hospital')),
    transferred_to   BIGINT REFERENCES shelters (id)
);
CREATE UNIQUE INDEX stays_one_open ON stays (resident_id) WHERE checked_out_at IS NULL;
CREATE INDEX stays_shelter_open ON stays (shelter_id) WHERE checked_out_at IS NULL;
CREATE INDEX stays_shelter_entry ON stays (shelter_id, checked_in_at);

CREATE TABLE relief_items (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id  UUID NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    unit       TEXT NOT NULL,
    quota      INTEGER NOT NULL CHECK (quota > 0),
    per        TEXT NOT NULL CHECK (per IN ('person', 'household')),
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- subject: the resident, or the head of the household for a per-household item.
CREATE TABLE relief_usage (
    item_id    BIGINT NOT NULL REFERENCES relief_items (id),
    subject_id BIGINT NOT NULL REFERENCES residents (id),
    day        DATE NOT NULL,
    used       INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (item_id, subject_id, day)
);

CREATE TABLE distributions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id    UUID NOT NULL UNIQUE,
    shelter_id   BIGINT NOT NULL REFERENCES shelters (id),
    item_id      BIGINT NOT NULL REFERENCES relief_items (id),
    resident_id  BIGINT NOT NULL REFERENCES residents (id),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    day          DATE NOT NULL,
    given_at     TIMESTAMPTZ NOT NULL,
    given_by     TEXT NOT NULL
);
CREATE INDEX distributions_shelter_day ON distributions (shelter_id, day, id);
