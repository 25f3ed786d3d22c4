//! Desk phones: one-time enrolment codes, and the devices made from them (staff accounts
//! bound to one shelter, `users.device_shelter`, whose one credential expires).

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

pub struct NewEnrolment<'a> {
    pub code_hash: [u8; 32],
    pub shelter_id: Uuid,
    pub name: &'a str,
    pub device_hours: i64,
    pub created_by: i64,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_enrolment(tx: &mut Tx, e: &NewEnrolment<'_>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO device_enrolments \
             (code_hash, shelter_id, name, device_hours, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&e.code_hash[..])
        .bind(e.shelter_id)
        .bind(e.name)
        .bind(e.device_hours)
        .bind(e.created_by)
        .bind(e.now)
        .bind(e.expires_at)
        .execute(c)
        .await?;
    });
    Ok(())
}

pub struct Enrolment {
    pub shelter_id: Uuid,
    pub name: String,
    pub device_hours: i64,
    pub created_by: i64,
}

/// Spends an enrolment code in one statement: two phones scanning the same code get one
/// device between them, and an expired code none.
pub async fn claim_enrolment(
    tx: &mut Tx,
    hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<Enrolment>> {
    on_tx!(tx, |c| {
        let row = sqlx::query(
            "UPDATE device_enrolments SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING shelter_id, name, CAST(device_hours AS BIGINT) AS device_hours, created_by",
        )
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Enrolment {
            shelter_id: r.try_get("shelter_id")?,
            name: r.try_get("name")?,
            device_hours: r.try_get("device_hours")?,
            created_by: r.try_get("created_by")?,
        }))
    })
}

/// A desk phone as `/ops` lists it.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub public_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The shelter's devices, newest first; those revoked more than a day ago are left out.
pub async fn of_shelter(db: &Db, shelter: Uuid, since: DateTime<Utc>) -> Result<Vec<DeviceRow>> {
    on_db!(db, |c| {
        let rows = sqlx::query(
            "SELECT u.public_id, u.name, u.created_at, t.expires_at, t.last_used_at, \
                    u.disabled_at AS revoked_at \
             FROM users u LEFT JOIN access_tokens t ON t.user_id = u.id AND t.kind = 'device' \
             WHERE u.device_shelter = $1 AND (u.disabled_at IS NULL OR u.disabled_at > $2) \
             ORDER BY u.created_at DESC, u.id DESC LIMIT 500",
        )
        .bind(shelter)
        .bind(since)
        .fetch_all(c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeviceRow {
                    public_id: r.try_get("public_id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    })
}

/// Revokes one device of the shelter, or all of them (`device` None): the accounts are
/// disabled and their credentials revoked. Returns how many.
pub async fn revoke(
    tx: &mut Tx,
    shelter: Uuid,
    device: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64> {
    on_tx!(tx, |c| {
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE users SET disabled_at = $3 \
             WHERE device_shelter = $1 AND ($2 IS NULL OR public_id = $2) AND disabled_at IS NULL \
             RETURNING id",
        )
        .bind(shelter)
        .bind(device)
        .bind(now)
        .fetch_all(&mut *c)
        .await?;
        for id in &ids {
            sqlx::query(
                "UPDATE access_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
        Ok(ids.len() as u64)
    })
}

/// Moves a live device's expiry; false if there is no such live device at the shelter.
pub async fn renew(
    tx: &mut Tx,
    shelter: Uuid,
    device: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE access_tokens SET expires_at = $3 \
             WHERE kind = 'device' AND revoked_at IS NULL AND user_id = \
               (SELECT id FROM users WHERE device_shelter = $1 AND public_id = $2 \
                AND disabled_at IS NULL)",
        )
        .bind(shelter)
        .bind(device)
        .bind(expires_at)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}
