-- Districts (issue 22): each has its own status list, so a shelter's offline bundle carries
-- its district and named neighbours instead of the whole province. `id` is the number SC1
-- codes carry in their `district` claim; a district's slots are a window of
-- residents.status_index (domain::ids::DistrictId::window), so no resident row changes.
CREATE TABLE districts (
    id         INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 128),
    name       TEXT NOT NULL UNIQUE,
    geometry   TEXT NOT NULL,
    min_lon    REAL NOT NULL,
    min_lat    REAL NOT NULL,
    max_lon    REAL NOT NULL,
    max_lat    REAL NOT NULL,
    created_at TEXT NOT NULL
);

-- The lists, one chain of epochs per district (0: the default list, every code without a
-- district claim). The old table held only the default list; it is rebuilt on start.
DROP TABLE status_lists;
CREATE TABLE status_lists (
    district   INTEGER NOT NULL,
    epoch      INTEGER NOT NULL,
    issued_at  TEXT NOT NULL,
    audit_seq  INTEGER NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (district, epoch)
);

-- The audit seq of the newest change that may have moved a colour in a district's list,
-- written in the change's own transaction (store::audit). District -1 stands for all.
CREATE TABLE status_moved (
    district INTEGER PRIMARY KEY,
    seq      INTEGER NOT NULL
);

-- Every district a zone has ever had a member in (never shrinks, outlives the zone): an order
-- on the zone, or its deletion, moves colours in those lists only.
CREATE TABLE zone_districts (
    zone_id  INTEGER NOT NULL,
    district INTEGER NOT NULL,
    PRIMARY KEY (zone_id, district)
);
