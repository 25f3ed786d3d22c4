//! Zones and who lives in them.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ZoneRow {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub geometry: Json<serde_json::Value>,
    pub vertices: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct Bbox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

const COLUMNS: &str =
    "SELECT id, public_id, name, geometry, vertices, created_by, created_at, updated_at FROM zones";

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    public_id: Uuid,
    name: &str,
    geometry: &serde_json::Value,
    bbox: &Bbox,
    vertices: i32,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO zones (public_id, name, geometry, min_lon, min_lat, max_lon, max_lat, vertices, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(public_id)
        .bind(name)
        .bind(Json(geometry))
        .bind(bbox.min_lon)
        .bind(bbox.min_lat)
        .bind(bbox.max_lon)
        .bind(bbox.max_lat)
        .bind(vertices)
        .bind(by)
        .bind(now)
        .fetch_one(c)
        .await?
    }))
}

pub async fn update(
    tx: &mut Tx,
    id: i64,
    name: &str,
    geometry: &serde_json::Value,
    bbox: &Bbox,
    vertices: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE zones SET name = $2, geometry = $3, min_lon = $4, min_lat = $5, max_lon = $6, max_lat = $7, \
             vertices = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(Json(geometry))
        .bind(bbox.min_lon)
        .bind(bbox.min_lat)
        .bind(bbox.max_lon)
        .bind(bbox.max_lat)
        .bind(vertices)
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Removes a zone from use; its members go with it.
pub async fn delete(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE zones SET deleted_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM zone_members WHERE zone_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn get(db: &Db, public_id: Uuid) -> Result<Option<ZoneRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE public_id = $1 AND deleted_at IS NULL"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

pub async fn get_tx(tx: &mut Tx, public_id: Uuid) -> Result<Option<ZoneRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE public_id = $1 AND deleted_at IS NULL"
    ));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

pub async fn list(db: &Db) -> Result<Vec<ZoneRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE deleted_at IS NULL ORDER BY id"));
    Ok(on_db!(db, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

/// Zones whose bounding box holds the point: the candidates for a point-in-polygon test.
pub async fn around(tx: &mut Tx, lat: f64, lon: f64) -> Result<Vec<ZoneRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE deleted_at IS NULL AND min_lon <= $1 AND max_lon >= $1 AND min_lat <= $2 AND max_lat >= $2"
    ));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(lon)
        .bind(lat)
        .fetch_all(c)
        .await?))
}

/// Every zone in use, for matching many residents at once.
pub async fn all_tx(tx: &mut Tx) -> Result<Vec<ZoneRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE deleted_at IS NULL"));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

/// A located resident with the facts kept beside their memberships.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocatedResident {
    pub id: i64,
    pub status_index: i32,
    pub lat: f64,
    pub lon: f64,
    pub needs: Json<Vec<crate::domain::Need>>,
    pub flags: Json<Vec<crate::domain::Flag>>,
}

/// One page of the located residents inside `b`, after resident `after`, in id order: a
/// zone's members are found page by page, so a zone over millions holds one page in memory.
pub async fn located_in(
    tx: &mut Tx,
    b: &Bbox,
    after: i64,
    limit: i64,
) -> Result<Vec<LocatedResident>> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT id, status_index, lat, lon, needs, flags FROM residents WHERE id > $1 \
             AND lat BETWEEN $2 AND $3 AND lon BETWEEN $4 AND $5 ORDER BY id LIMIT $6",
        )
        .bind(after)
        .bind(b.min_lat)
        .bind(b.max_lat)
        .bind(b.min_lon)
        .bind(b.max_lon)
        .bind(limit)
        .fetch_all(c)
        .await?
    }))
}

const PAIRS_PER_STATEMENT: usize = 5000;

/// Adds (zone, resident, packed facts) memberships.
pub async fn add_members(tx: &mut Tx, pairs: &[(i64, i64, i32)]) -> Result<()> {
    for chunk in pairs.chunks(PAIRS_PER_STATEMENT) {
        on_tx!(tx, |c| {
            let mut q =
                QueryBuilder::new("INSERT INTO zone_members (zone_id, resident_id, facts) ");
            q.push_values(chunk, |mut b, (z, r, f)| {
                b.push_bind(*z).push_bind(*r).push_bind(*f);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

pub async fn clear_members(tx: &mut Tx, zone_id: i64) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM zone_members WHERE zone_id = $1")
            .bind(zone_id)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// A resident's needs or flags changed: their memberships carry the new facts.
pub async fn set_member_facts(tx: &mut Tx, resident_id: i64, facts: i32) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE zone_members SET facts = $2 WHERE resident_id = $1")
            .bind(resident_id)
            .bind(facts)
            .execute(c)
            .await?;
    });
    Ok(())
}

pub async fn clear_memberships_of(tx: &mut Tx, resident_id: i64) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM zone_members WHERE resident_id = $1")
            .bind(resident_id)
            .execute(c)
            .await?;
    });
    Ok(())
}

pub async fn member_count(tx: &mut Tx, zone_id: i64) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM zone_members WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_one(c)
            .await?
    }))
}

/// Public ids of the zones a resident is in.
pub async fn zones_of(db: &Db, resident_id: i64) -> Result<Vec<(Uuid, String)>> {
    on_db!(db, |c| {
        let rows = sqlx::query(
            "SELECT z.public_id, z.name FROM zone_members m JOIN zones z ON z.id = m.zone_id WHERE m.resident_id = $1 ORDER BY z.id",
        )
        .bind(resident_id)
        .fetch_all(c)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?)
    })
}
