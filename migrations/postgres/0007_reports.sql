-- Hazard reports from residents, with an optional photo, moved through a workflow by officials.
CREATE TABLE reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   UUID NOT NULL UNIQUE,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    category    TEXT NOT NULL,
    text        TEXT NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    urgent      BOOLEAN NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT,
    photo       BYTEA,
    photo_type  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX reports_open ON reports (urgent DESC, created_at DESC);
