//! The facts colours are computed from (the rules' read model), in one flattened column set,
//! [`FactRow`], read in the shapes the rules engine needs: for one resident, per resident of a
//! zone, or grouped (identical facts counted once) for counts over many residents and for the
//! status list. "In force" is written once for orders (`super::orders::IN_FORCE`) and once for
//! overrides ([`OVERRIDE_IN_FORCE`]); every query here builds on those.

use super::orders::IN_FORCE as ORDER_IN_FORCE;
use super::{Db, Result};
use crate::domain::{Flag, Need};
use crate::on_db;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// An override (`ov`, with its approval `a`) in force at `$1`: approved, not cleared, not
/// expired.
pub const OVERRIDE_IN_FORCE: &str =
    "a.status = 'approved' AND ov.cleared_at IS NULL AND a.expires_at > $1";

/// What the rules read about a resident (or about each of a group of residents with identical
/// facts), selected under these names by every query that feeds the rules.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FactRow {
    pub needs: Json<Vec<Need>>,
    pub flags: Json<Vec<Flag>>,
    pub birth_year: Option<i32>,
    /// The highest order level in force over the resident's zones (0: none).
    pub level: i32,
    /// The most severe override in force, as a colour code.
    pub override_colour: Option<i32>,
    /// 1 when the resident has an open shelter stay.
    pub sheltered: i64,
    /// 1 when the resident said they are safe with relatives.
    pub safe: i64,
}

/// The highest order in force over the resident's zones (`$1` is now).
fn level_of() -> String {
    format!(
        "LEFT JOIN (SELECT m2.resident_id, MAX(o.level) AS level FROM orders o \
         JOIN zone_members m2 ON m2.zone_id = o.zone_id \
         WHERE {ORDER_IN_FORCE} GROUP BY m2.resident_id) lv ON lv.resident_id = r.id"
    )
}

/// The most severe override in force (`$1` is now).
fn override_of() -> String {
    format!(
        "LEFT JOIN (SELECT ov.resident_id, MAX(a.colour) AS colour FROM overrides ov \
         JOIN approvals a ON a.id = ov.approval_id \
         WHERE {OVERRIDE_IN_FORCE} GROUP BY ov.resident_id) ovr ON ovr.resident_id = r.id"
    )
}

/// The joins [`fact_columns`] reads, for residents `r` (`$1` is now).
pub(super) fn fact_joins() -> String {
    format!("{} {} {STAY_OF} {SAFE_OF}", level_of(), override_of())
}

/// The [`FactRow`] columns over [`fact_joins`]; the birth year only when a rule reads `age`
/// (grouping by it makes far more groups).
pub(super) fn fact_columns(with_birth_year: bool) -> String {
    let birth = if with_birth_year {
        "r.birth_year"
    } else {
        "CAST(NULL AS INTEGER)"
    };
    format!(
        "r.needs, r.flags, {birth} AS birth_year, CAST(COALESCE(lv.level, 0) AS INTEGER) AS level, \
         ovr.colour AS override_colour, {SHELTERED} AS sheltered, {SAFE} AS safe"
    )
}

/// What [`fact_columns`] groups by.
pub(super) fn fact_group_by(with_birth_year: bool) -> String {
    let birth = if with_birth_year {
        "r.birth_year"
    } else {
        "CAST(NULL AS INTEGER)"
    };
    format!("r.needs, r.flags, {birth}, COALESCE(lv.level, 0), ovr.colour, {SHELTERED}, {SAFE}")
}

/// Whether the resident has an open shelter stay (at most one row: a partial unique index).
const STAY_OF: &str = "LEFT JOIN stays st ON st.resident_id = r.id AND st.checked_out_at IS NULL";
const SHELTERED: &str = "CAST(CASE WHEN st.id IS NULL THEN 0 ELSE 1 END AS BIGINT)";

/// Whether the resident said they are safe with relatives (one row per resident at most).
const SAFE_OF: &str =
    "LEFT JOIN safety_checks sc ON sc.resident_id = r.id AND sc.status = 'with_relatives'";
const SAFE: &str = "CAST(CASE WHEN sc.resident_id IS NULL THEN 0 ELSE 1 END AS BIGINT)";

/// One resident's facts, with what a scan needs besides.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResidentFacts {
    pub id: i64,
    pub public_id: Uuid,
    pub head_id: Option<i64>,
    pub id_last4: String,
    #[sqlx(flatten)]
    pub facts: FactRow,
    /// The note of the override in force, shown to the resident and officials.
    pub override_reason: Option<String>,
    /// Records, this one included, that stand for the same identity document: more than
    /// one until an official has checked the card. Counted only for a scanned code
    /// ([`Who::PublicId`]); 1 otherwise.
    pub holders: i64,
}

/// Which resident: by the id inside the database, or by the public id a scanned code carries
/// (then the records naming the same document are counted too, for the desk).
#[derive(Debug, Clone, Copy)]
pub enum Who {
    Id(i64),
    PublicId(uuid::Uuid),
}

/// For one resident, correlated subqueries (an index lookup each) rather than the grouped
/// joins of [`fact_joins`], which would aggregate over everyone first.
fn of_resident_sql(who: Who) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(match who {
        Who::Id(_) => facts_sql("CAST(1 AS BIGINT)", "r.id = $2"),
        Who::PublicId(_) => facts_sql(HOLDERS, "r.public_id = $2"),
    })
}

/// Records, the scanned one included, naming the same identity document.
const HOLDERS: &str =
    "(SELECT COUNT(*) FROM residents d WHERE d.doc_hash = r.doc_hash AND d.standing <> 'retired')";

/// The [`ResidentFacts`] of the residents `which` selects, with their public ids.
fn facts_sql(holders: &str, which: &str) -> String {
    format!(
        "SELECT r.id, r.public_id, r.head_id, r.id_last4, r.needs, r.flags, r.birth_year, \
             CAST((SELECT COALESCE(MAX(o.level), 0) FROM zone_members m JOIN orders o ON o.zone_id = m.zone_id \
              WHERE m.resident_id = r.id AND {ORDER_IN_FORCE}) AS INTEGER) AS level, \
             (SELECT a.colour FROM overrides ov JOIN approvals a ON a.id = ov.approval_id WHERE ov.resident_id = r.id \
              AND {OVERRIDE_IN_FORCE} ORDER BY a.colour DESC, a.id DESC LIMIT 1) AS override_colour, \
             (SELECT a.reason_text FROM overrides ov JOIN approvals a ON a.id = ov.approval_id WHERE ov.resident_id = r.id \
              AND {OVERRIDE_IN_FORCE} ORDER BY a.colour DESC, a.id DESC LIMIT 1) AS override_reason, \
             (SELECT COUNT(*) FROM stays st WHERE st.resident_id = r.id AND st.checked_out_at IS NULL) AS sheltered, \
             (SELECT COUNT(*) FROM safety_checks s WHERE s.resident_id = r.id AND s.status = 'with_relatives') AS safe, \
             {holders} AS holders \
             FROM residents r WHERE r.standing <> 'retired' AND {which}"
    )
}

/// One resident's facts in one query (a scan's hot path).
pub async fn of_resident(db: &Db, who: Who, now: DateTime<Utc>) -> Result<Option<ResidentFacts>> {
    let sql = of_resident_sql(who);
    Ok(on_db!(db, |c| {
        let q = sqlx::query_as(sql).bind(now);
        match who {
            Who::Id(id) => q.bind(id).fetch_optional(c).await?,
            Who::PublicId(id) => q.bind(id).fetch_optional(c).await?,
        }
    }))
}

/// The facts of every resident of `ids` (public ids, as scanned codes carry them) in one
/// query: a batch of scans costs one round trip. Residents not found are absent.
pub async fn of_scanned(db: &Db, ids: &[Uuid], now: DateTime<Utc>) -> Result<Vec<ResidentFacts>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement per batch size, each prepared once per connection.
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = facts_sql(HOLDERS, &format!("r.public_id IN ({list})"));
    if let Db::Sqlite {
        file: Some(file), ..
    } = db
    {
        return Ok(super::on_thread::read(file, |c| {
            scanned_here(c, &sql, ids, now)
        })?);
    }
    Ok(on_db!(db, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await?
    }))
}

/// [`of_scanned`] on this thread's own SQLite connection. Parameters are bound as sqlx binds
/// them (a uuid as its 16 bytes, a time as RFC 3339 text), so the same SQL compares the same.
fn scanned_here(
    c: &rusqlite::Connection,
    sql: &str,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<ResidentFacts>> {
    use rusqlite::types::Type;
    fn json<T: serde::de::DeserializeOwned>(
        row: &rusqlite::Row<'_>,
        i: usize,
    ) -> rusqlite::Result<Json<T>> {
        let text = row.get_ref(i)?.as_bytes()?;
        serde_json::from_slice(text)
            .map(Json)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
    }
    let mut stmt = c.prepare_cached(sql)?;
    stmt.raw_bind_parameter(1, now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))?;
    for (i, id) in ids.iter().enumerate() {
        stmt.raw_bind_parameter(i + 2, &id.as_bytes()[..])?;
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::with_capacity(ids.len());
    while let Some(row) = rows.next()? {
        let public_id: [u8; 16] = row.get(1)?;
        out.push(ResidentFacts {
            id: row.get(0)?,
            public_id: Uuid::from_bytes(public_id),
            head_id: row.get(2)?,
            id_last4: row.get(3)?,
            facts: FactRow {
                needs: json(row, 4)?,
                flags: json(row, 5)?,
                birth_year: row.get(6)?,
                level: row.get(7)?,
                override_colour: row.get(8)?,
                sheltered: row.get(10)?,
                safe: row.get(11)?,
            },
            override_reason: row.get(9)?,
            holders: row.get(12)?,
        });
    }
    Ok(out)
}

/// The same inside a transaction: the facts as the transaction's own changes leave them.
pub async fn of_resident_tx(
    tx: &mut super::Tx,
    who: Who,
    now: DateTime<Utc>,
) -> Result<Option<ResidentFacts>> {
    let sql = of_resident_sql(who);
    Ok(crate::on_tx!(tx, |c| {
        let q = sqlx::query_as(sql).bind(now);
        match who {
            Who::Id(id) => q.bind(id).fetch_optional(c).await?,
            Who::PublicId(id) => q.bind(id).fetch_optional(c).await?,
        }
    }))
}

/// Residents whose facts are identical, counted once.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FactGroup {
    pub zone_id: Option<i64>,
    #[sqlx(flatten)]
    pub facts: FactRow,
    pub n: i64,
}

#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Every resident.
    Everyone,
    /// The members of one zone.
    Zone(i64),
    /// The members of every zone in use, per zone.
    EachZone,
}

/// Grouped facts. `with_birth_year` only when a rule reads `age`: fewer groups otherwise.
pub async fn grouped(
    db: &Db,
    scope: Scope,
    with_birth_year: bool,
    now: DateTime<Utc>,
) -> Result<Vec<FactGroup>> {
    let (zone_col, from) = match scope {
        Scope::Everyone => ("CAST(NULL AS BIGINT)", "residents r".to_owned()),
        Scope::Zone(_) => ("zm.zone_id", "zone_members zm JOIN residents r ON r.id = zm.resident_id".to_owned()),
        Scope::EachZone => (
            "zm.zone_id",
            "zone_members zm JOIN zones z ON z.id = zm.zone_id AND z.deleted_at IS NULL JOIN residents r ON r.id = zm.resident_id".to_owned(),
        ),
    };
    let filter = if matches!(scope, Scope::Zone(_)) {
        "WHERE zm.zone_id = $2 AND r.standing <> 'retired'"
    } else {
        "WHERE $2 = $2 AND r.standing <> 'retired'"
    };
    let sql = format!(
        "SELECT {zone_col} AS zone_id, {columns}, COUNT(*) AS n FROM {from} {joins} {filter} \
         GROUP BY {zone_col}, {group_by}",
        columns = fact_columns(with_birth_year),
        joins = fact_joins(),
        group_by = fact_group_by(with_birth_year),
    );
    let zone = match scope {
        Scope::Zone(z) => z,
        _ => 0,
    };
    let sql = sqlx::AssertSqlSafe(sql);
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .bind(zone)
        .fetch_all(c)
        .await?))
}

/// Members of a zone with identical facts, counted once, from the facts kept on each
/// membership: no resident row is read. (Rules that read `age` use [`grouped`] instead.)
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ZoneFactGroup {
    pub zone_id: i64,
    /// Needs and flags packed in bits (`domain::resident::pack_facts`).
    pub facts: i32,
    pub level: i32,
    pub override_colour: Option<i32>,
    pub sheltered: i64,
    /// 1 when the resident said they are safe with relatives.
    pub safe: i64,
    pub n: i64,
}

impl ZoneFactGroup {
    /// The group's facts in the one shape the rules read (no birth year: memberships keep
    /// none, so rules that read `age` use [`grouped`]).
    pub fn fact_row(&self) -> FactRow {
        let (needs, flags) = crate::domain::resident::unpack_facts(self.facts);
        FactRow {
            needs: Json(needs),
            flags: Json(flags),
            birth_year: None,
            level: self.level,
            override_colour: self.override_colour,
            sheltered: self.sheltered,
            safe: self.safe,
        }
    }
}

pub async fn grouped_by_zone(db: &Db, now: DateTime<Utc>) -> Result<Vec<ZoneFactGroup>> {
    // The level and override tables are keyed by resident: `r` names the membership here.
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT r.zone_id, r.facts, CAST(COALESCE(lv.level, 0) AS INTEGER) AS level, ovr.colour AS override_colour, \
         {SHELTERED} AS sheltered, {SAFE} AS safe, COUNT(*) AS n \
         FROM (SELECT zm.zone_id, zm.facts, zm.resident_id AS id FROM zone_members zm \
               JOIN zones z ON z.id = zm.zone_id AND z.deleted_at IS NULL) r {joins} \
         GROUP BY r.zone_id, r.facts, COALESCE(lv.level, 0), ovr.colour, {SHELTERED}, {SAFE}",
        joins = fact_joins(),
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .fetch_all(c)
        .await?))
}

/// One member of a zone with what a transfer team needs to reach them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberFacts {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    #[sqlx(flatten)]
    pub facts: FactRow,
}

/// Up to `limit` members of a zone after `after_id`, in id order.
pub async fn zone_members(
    db: &Db,
    zone_id: i64,
    after_id: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<MemberFacts>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.public_id, r.name, r.phone, r.address, {columns} \
         FROM zone_members zm JOIN residents r ON r.id = zm.resident_id {joins} \
         WHERE zm.zone_id = $2 AND r.id > $3 ORDER BY r.id LIMIT $4",
        columns = fact_columns(true),
        joins = fact_joins(),
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .bind(zone_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(c)
        .await?))
}

/// A located resident's facts, for a zone not yet saved.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocatedFacts {
    pub lat: f64,
    pub lon: f64,
    #[sqlx(flatten)]
    pub facts: FactRow,
}

/// The facts of every resident located inside a bounding box (the caller keeps those inside
/// the polygon): read-only, so previewing a drawing holds no lock.
pub async fn in_bbox(
    db: &Db,
    bbox: &super::zones::Bbox,
    with_birth_year: bool,
    now: DateTime<Utc>,
) -> Result<Vec<LocatedFacts>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT r.lat, r.lon, {columns} FROM residents r {joins} \
         WHERE r.lat BETWEEN $2 AND $3 AND r.lon BETWEEN $4 AND $5 AND r.standing <> 'retired'",
        columns = fact_columns(with_birth_year),
        joins = fact_joins(),
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .bind(bbox.min_lat)
        .bind(bbox.max_lat)
        .bind(bbox.min_lon)
        .bind(bbox.max_lon)
        .fetch_all(c)
        .await?))
}
