-- The change feed of the facts a scan reads (issue 22, verify on PostgreSQL). Each server keeps
-- the facts of the residents it scanned lately (service::fresh_facts) and must drop them the
-- moment they change, whichever server or script changed them: these triggers announce, at
-- commit, whose facts a statement touched, on the channel 'safecode_facts'.
--
-- A payload is an optional 't' (an order's or an override's expiry may have moved, so the time
-- until which kept facts stay true must be read again), then either '*' (too many residents to
-- name: drop everything) or the residents' public ids, comma-separated. At most 150 are named
-- (5.6 KB, under NOTIFY's 8 KB), so a zone's membership or an order is one '*'.
--
-- Statement-level triggers with transition tables: one NOTIFY per statement, not per row, so
-- a zone of a million members or an import of ten million residents costs one message.

CREATE FUNCTION facts_announce(ids UUID[], times BOOLEAN) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        IF times THEN
            PERFORM pg_notify('safecode_facts', 't');
        END IF;
        RETURN;
    END IF;
    PERFORM pg_notify('safecode_facts',
        CASE WHEN times THEN 't' ELSE '' END ||
        CASE WHEN cardinality(ids) > 150 THEN '*' ELSE array_to_string(ids, ',') END);
END $$;

-- Rows keyed by resident_id (zone memberships, overrides, stays, safety checks).
CREATE FUNCTION facts_by_resident_id() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    ids UUID[];
    n BIGINT := 0;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        SELECT count(*) INTO n FROM (SELECT 1 FROM new_rows LIMIT 151) x;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT n + count(*) INTO n FROM (SELECT 1 FROM old_rows LIMIT 151) x;
    END IF;
    IF n > 150 THEN
        PERFORM pg_notify('safecode_facts', '*');
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT r.public_id) INTO ids
        FROM new_rows c JOIN residents r ON r.id = c.resident_id;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT r.public_id) INTO ids
        FROM old_rows c JOIN residents r ON r.id = c.resident_id;
    ELSE
        SELECT array_agg(DISTINCT r.public_id) INTO ids
        FROM (SELECT resident_id FROM new_rows UNION SELECT resident_id FROM old_rows) c
        JOIN residents r ON r.id = c.resident_id;
    END IF;
    PERFORM facts_announce(ids, false);
    RETURN NULL;
END $$;

-- Residents: the changed records and every record naming the same identity document (a
-- scan counts them: "document disputed").
CREATE FUNCTION facts_of_residents() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    ids UUID[];
    n BIGINT := 0;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        SELECT count(*) INTO n FROM (SELECT 1 FROM new_rows LIMIT 151) x;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT n + count(*) INTO n FROM (SELECT 1 FROM old_rows LIMIT 151) x;
    END IF;
    IF n > 150 THEN
        PERFORM pg_notify('safecode_facts', '*');
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT x) INTO ids FROM (
            SELECT public_id AS x FROM new_rows
            UNION ALL SELECT d.public_id FROM residents d
            WHERE d.doc_hash IN (SELECT doc_hash FROM new_rows) LIMIT 151) s;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT x) INTO ids FROM (
            SELECT public_id AS x FROM old_rows
            UNION ALL SELECT d.public_id FROM residents d
            WHERE d.doc_hash IN (SELECT doc_hash FROM old_rows) LIMIT 151) s;
    ELSE
        SELECT array_agg(DISTINCT x) INTO ids FROM (
            SELECT public_id AS x FROM new_rows
            UNION ALL SELECT public_id FROM old_rows
            UNION ALL SELECT d.public_id FROM residents d
            WHERE d.doc_hash IN (SELECT doc_hash FROM new_rows UNION SELECT doc_hash FROM old_rows)
            LIMIT 151) s;
    END IF;
    PERFORM facts_announce(ids, false);
    RETURN NULL;
END $$;

-- Orders: an order covers a zone, so everyone; and its expiry moves the time kept facts hold.
CREATE FUNCTION facts_of_orders() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('safecode_facts', 't*');
    RETURN NULL;
END $$;

-- Approvals: the residents of the overrides an approval decides, and its expiry.
CREATE FUNCTION facts_of_approvals() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    ids UUID[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A new approval is pending: nothing it decides is in force yet.
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT r.public_id) INTO ids FROM (
            SELECT ov.resident_id FROM overrides ov WHERE ov.approval_id IN (SELECT id FROM old_rows) LIMIT 151) c
        JOIN residents r ON r.id = c.resident_id;
    ELSE
        SELECT array_agg(DISTINCT r.public_id) INTO ids FROM (
            SELECT ov.resident_id FROM overrides ov WHERE ov.approval_id IN (SELECT id FROM new_rows) LIMIT 151) c
        JOIN residents r ON r.id = c.resident_id;
    END IF;
    PERFORM facts_announce(ids, true);
    RETURN NULL;
END $$;

CREATE FUNCTION facts_of_truncate() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('safecode_facts', 't*');
    RETURN NULL;
END $$;

CREATE TRIGGER facts_residents_ins AFTER INSERT ON residents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_of_residents();
CREATE TRIGGER facts_residents_upd AFTER UPDATE ON residents
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_of_residents();
CREATE TRIGGER facts_residents_del AFTER DELETE ON residents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_of_residents();

CREATE TRIGGER facts_zone_members_ins AFTER INSERT ON zone_members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_zone_members_upd AFTER UPDATE ON zone_members
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_zone_members_del AFTER DELETE ON zone_members
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();

CREATE TRIGGER facts_overrides_ins AFTER INSERT ON overrides
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_overrides_upd AFTER UPDATE ON overrides
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_overrides_del AFTER DELETE ON overrides
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();

CREATE TRIGGER facts_stays_ins AFTER INSERT ON stays
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_stays_upd AFTER UPDATE ON stays
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_stays_del AFTER DELETE ON stays
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();

CREATE TRIGGER facts_safety_ins AFTER INSERT ON safety_checks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_safety_upd AFTER UPDATE ON safety_checks
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();
CREATE TRIGGER facts_safety_del AFTER DELETE ON safety_checks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_by_resident_id();

CREATE TRIGGER facts_orders_ins AFTER INSERT ON orders FOR EACH STATEMENT EXECUTE FUNCTION facts_of_orders();
CREATE TRIGGER facts_orders_upd AFTER UPDATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION facts_of_orders();
CREATE TRIGGER facts_orders_del AFTER DELETE ON orders FOR EACH STATEMENT EXECUTE FUNCTION facts_of_orders();

CREATE TRIGGER facts_approvals_upd AFTER UPDATE ON approvals
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_of_approvals();
CREATE TRIGGER facts_approvals_del AFTER DELETE ON approvals
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION facts_of_approvals();

CREATE TRIGGER facts_residents_trunc AFTER TRUNCATE ON residents FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
CREATE TRIGGER facts_zone_members_trunc AFTER TRUNCATE ON zone_members FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
CREATE TRIGGER facts_overrides_trunc AFTER TRUNCATE ON overrides FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
CREATE TRIGGER facts_stays_trunc AFTER TRUNCATE ON stays FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
CREATE TRIGGER facts_safety_trunc AFTER TRUNCATE ON safety_checks FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
CREATE TRIGGER facts_orders_trunc AFTER TRUNCATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
CREATE TRIGGER facts_approvals_trunc AFTER TRUNCATE ON approvals FOR EACH STATEMENT EXECUTE FUNCTION facts_of_truncate();
