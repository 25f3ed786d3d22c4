//! Incidents and evacuation orders. An order in force is one row: colours follow from it at
//! read time, so issuing or lifting it never touches the residents.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: i64,
    pub public_id: Uuid,
    pub zone_public_id: Uuid,
    pub zone_id: i64,
    pub level: i32,
    pub reason: String,
    pub incident_public_id: Option<Uuid>,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
}

const ORDER_COLUMNS: &str = "SELECT o.id, o.public_id, z.public_id AS zone_public_id, o.zone_id, o.level, o.reason, \
    i.public_id AS incident_public_id, o.issued_by, o.issued_at, o.expires_at, o.lifted_at, o.lifted_by \
    FROM orders o JOIN zones z ON z.id = o.zone_id LEFT JOIN incidents i ON i.id = o.incident_id";

/// The SQL condition for an order in force at `$now`.
pub const IN_FORCE: &str = "o.lifted_at IS NULL AND (o.expires_at IS NULL OR o.expires_at > $1)";

pub struct NewOrder<'a> {
    pub public_id: Uuid,
    pub zone_id: i64,
    pub level: i32,
    pub reason: &'a str,
    pub incident_id: Option<i64>,
    pub issued_by: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(tx: &mut Tx, o: &NewOrder<'_>, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO orders (public_id, zone_id, level, reason, incident_id, issued_by, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(o.public_id)
        .bind(o.zone_id)
        .bind(o.level)
        .bind(o.reason)
        .bind(o.incident_id)
        .bind(o.issued_by)
        .bind(now)
        .bind(o.expires_at)
        .fetch_one(c)
        .await?
    }))
}

pub async fn get(db: &Db, public_id: Uuid) -> Result<Option<OrderRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{ORDER_COLUMNS} WHERE o.public_id = $1"));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

/// Lifts an order still in force; `false` if it was not.
pub async fn lift(tx: &mut Tx, id: i64, by: &str, now: DateTime<Utc>) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE orders SET lifted_at = $1, lifted_by = $3 WHERE id = $2 AND lifted_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $1)",
        )
        .bind(now)
        .bind(id)
        .bind(by)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

pub async fn list(db: &Db, active_only: bool, now: DateTime<Utc>) -> Result<Vec<OrderRow>> {
    let sql = if active_only {
        format!("{ORDER_COLUMNS} WHERE {IN_FORCE} ORDER BY o.id DESC LIMIT 1000")
    } else {
        format!("{ORDER_COLUMNS} WHERE $1 = $1 ORDER BY o.id DESC LIMIT 1000")
    };
    let sql = sqlx::AssertSqlSafe(sql);
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .fetch_all(c)
        .await?))
}

/// The highest order in force over one zone.
pub async fn zone_level(db: &Db, zone_id: i64, now: DateTime<Utc>) -> Result<i32> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT COALESCE(MAX(o.level), 0) FROM orders o WHERE o.zone_id = $2 AND {IN_FORCE}"
    ));
    Ok(on_db!(db, |c| sqlx::query_scalar(sql)
        .bind(now)
        .bind(zone_id)
        .fetch_one(c)
        .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub all_clear_at: Option<DateTime<Utc>>,
    pub all_clear_by: Option<String>,
}

pub async fn insert_incident(
    tx: &mut Tx,
    public_id: Uuid,
    name: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar("INSERT INTO incidents (public_id, name, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(public_id)
            .bind(name)
            .bind(by)
            .bind(now)
            .fetch_one(c)
            .await?
    }))
}

pub async fn incident(db: &Db, public_id: Uuid) -> Result<Option<IncidentRow>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as("SELECT id, public_id, name, created_by, created_at, all_clear_at, all_clear_by FROM incidents WHERE public_id = $1")
            .bind(public_id)
            .fetch_optional(c)
            .await?
    }))
}

pub async fn incidents(db: &Db) -> Result<Vec<IncidentRow>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as("SELECT id, public_id, name, created_by, created_at, all_clear_at, all_clear_by FROM incidents ORDER BY id DESC")
            .fetch_all(c)
            .await?
    }))
}

/// Declares the all-clear once and lifts the incident's orders in force. `None` if the
/// incident had already been cleared.
pub async fn all_clear(tx: &mut Tx, id: i64, by: &str, now: DateTime<Utc>) -> Result<Option<u64>> {
    on_tx!(tx, |c| {
        let n = sqlx::query("UPDATE incidents SET all_clear_at = $2, all_clear_by = $3 WHERE id = $1 AND all_clear_at IS NULL")
            .bind(id)
            .bind(now)
            .bind(by)
            .execute(&mut *c)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        let lifted = sqlx::query("UPDATE orders SET lifted_at = $2, lifted_by = $3 WHERE incident_id = $1 AND lifted_at IS NULL")
            .bind(id)
            .bind(now)
            .bind(by)
            .execute(&mut *c)
            .await?
            .rows_affected();
        Ok(Some(lifted))
    })
}

/// The highest order in force per zone, for the zones that have one.
pub async fn zone_levels(db: &Db, now: DateTime<Utc>) -> Result<Vec<(i64, i32)>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT o.zone_id, MAX(o.level) FROM orders o WHERE {IN_FORCE} GROUP BY o.zone_id"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .fetch_all(c)
        .await?))
}

/// Whether an order is in force over the zone, inside the caller's transaction.
pub async fn in_force_over(tx: &mut super::Tx, zone_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM orders o WHERE o.zone_id = $2 AND {IN_FORCE}"
    ));
    let n: i64 = crate::on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(now)
        .bind(zone_id)
        .fetch_one(c)
        .await?);
    Ok(n > 0)
}
