//! Districts: each has its own status list and a window of status slots.

use super::zones::Bbox;
use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DistrictRow {
    pub id: i64,
    pub name: String,
    pub geometry: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "SELECT id, name, geometry, created_at FROM districts";

/// What an insert met instead of a new row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Id(i64),
    NameTaken,
    /// Every number a district can have is in use.
    Full,
}

/// Inserts a district on the lowest free number (one statement: two admins at once get two
/// numbers or one conflict, never one number twice).
pub async fn insert(
    tx: &mut Tx,
    name: &str,
    geometry: &serde_json::Value,
    b: &Bbox,
    max: i64,
    now: DateTime<Utc>,
) -> Result<Inserted> {
    let taken: Option<i64> = on_tx!(tx, |c| {
        sqlx::query_scalar("SELECT id FROM districts WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *c)
            .await?
    });
    if taken.is_some() {
        return Ok(Inserted::NameTaken);
    }
    let id: Option<i64> = on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO districts (id, name, geometry, min_lon, min_lat, max_lon, max_lat, created_at) \
             SELECT n, $1, $2, $3, $4, $5, $6, $7 FROM \
             (SELECT COALESCE(MAX(id), 0) + 1 AS n FROM districts) nx WHERE n <= $8 \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(Json(geometry))
        .bind(b.min_lon)
        .bind(b.min_lat)
        .bind(b.max_lon)
        .bind(b.max_lat)
        .bind(now)
        .bind(max)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(match id {
        Some(id) => Inserted::Id(id),
        None => Inserted::Full,
    })
}

pub async fn list(db: &Db) -> Result<Vec<DistrictRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY id"));
    Ok(on_db!(db, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

pub async fn list_tx(tx: &mut Tx) -> Result<Vec<DistrictRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY id"));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

/// The districts whose box holds a place (their polygons decide).
pub async fn around(tx: &mut Tx, lat: f64, lon: f64) -> Result<Vec<DistrictRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE $1 BETWEEN min_lat AND max_lat AND $2 BETWEEN min_lon AND max_lon ORDER BY id"
    ));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(lat)
        .bind(lon)
        .fetch_all(c)
        .await?))
}

pub async fn exists(db: &Db, id: i64) -> Result<bool> {
    let n: Option<i64> = on_db!(db, |c| sqlx::query_scalar(
        "SELECT id FROM districts WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await?);
    Ok(n.is_some())
}
