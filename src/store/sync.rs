//! Offline events that conflicted, and whether an event's key was already applied.

use super::{Db, Result};
use crate::on_db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub struct NewConflict<'a> {
    pub shelter: Uuid,
    pub idempotency_key: &'a str,
    pub device_id: &'a str,
    pub event_type: &'a str,
    pub device_time: DateTime<Utc>,
    pub reason: &'a str,
    pub detail: &'a str,
    pub resident: Option<Uuid>,
    pub by: &'a str,
}

/// Keeps a conflict (once per shelter and key).
pub async fn record(db: &Db, c: &NewConflict<'_>, now: DateTime<Utc>) -> Result<()> {
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO sync_conflicts (shelter_public_id, idempotency_key, device_id, event_type, \
             device_time, reason, detail, resident_public_id, received_at, received_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (shelter_public_id, idempotency_key) DO NOTHING",
        )
        .bind(c.shelter)
        .bind(c.idempotency_key)
        .bind(c.device_id)
        .bind(c.event_type)
        .bind(c.device_time)
        .bind(c.reason)
        .bind(c.detail)
        .bind(c.resident)
        .bind(now)
        .bind(c.by)
        .execute(pool)
        .await?;
    });
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConflictRow {
    pub id: i64,
    pub shelter_public_id: Uuid,
    pub idempotency_key: String,
    pub device_id: String,
    pub event_type: String,
    pub device_time: DateTime<Utc>,
    pub reason: String,
    pub detail: String,
    pub resident_public_id: Option<Uuid>,
    pub received_at: DateTime<Utc>,
    pub received_by: String,
    /// Where the shelter is, for the jurisdiction filter.
    pub shelter_lat: Option<f64>,
    pub shelter_lon: Option<f64>,
}

/// Newest first, optionally for one shelter; `before` pages by id.
pub async fn list(
    db: &Db,
    shelter: Option<Uuid>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ConflictRow>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
        "SELECT c.id, c.shelter_public_id, c.idempotency_key, c.device_id, c.event_type, c.device_time, c.reason, \
         c.detail, c.resident_public_id, c.received_at, c.received_by, s.lat AS shelter_lat, s.lon AS shelter_lon \
         FROM sync_conflicts c LEFT JOIN shelters s ON s.public_id = c.shelter_public_id \
         WHERE ($1 IS NULL OR c.shelter_public_id = $1) AND ($2 IS NULL OR c.id < $2) \
         ORDER BY c.id DESC LIMIT $3"
    )
    .bind(shelter)
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await?
    }))
}

/// Whether a request with this key was already applied (its answer is stored).
pub async fn applied(db: &Db, scope: &str, key: &str) -> Result<bool> {
    let n: i64 = on_db!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM idempotency WHERE scope = $1 AND key = $2 AND status IS NOT NULL"
    )
    .bind(scope)
    .bind(key)
    .fetch_one(c)
    .await?);
    Ok(n > 0)
}
