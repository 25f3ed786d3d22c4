//! The rows about one resident that their data export adds to their profile and trail.

use super::{Db, Result};
use crate::on_db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub alert_id: i64,
    pub public_id: Uuid,
    pub headline: String,
    pub sent_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub reached_at: Option<DateTime<Utc>>,
}

pub async fn alerts(db: &Db, resident: i64) -> Result<Vec<AlertRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT a.id AS alert_id, a.public_id, a.headline, a.sent_at, r.acknowledged_at, \
         r.reached_at FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
         WHERE r.resident_id = $1 ORDER BY a.sent_at DESC LIMIT 5000"
    )
    .bind(resident)
    .fetch_all(c)
    .await?))
}

/// (alert, channel, queued at) of every message queued to this resident.
pub async fn messages(db: &Db, resident: i64) -> Result<Vec<(i64, String, DateTime<Utc>)>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT alert_id, channel, created_at FROM outbox WHERE resident_id = $1 \
         ORDER BY created_at LIMIT 20000"
    )
    .bind(resident)
    .fetch_all(c)
    .await?))
}

pub async fn language(db: &Db, resident: i64) -> Result<String> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT language FROM residents WHERE id = $1"
    )
    .bind(resident)
    .fetch_one(c)
    .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub public_id: Uuid,
    pub category: String,
    pub text: String,
    pub status: String,
    pub has_photo: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn reports(db: &Db, resident: i64) -> Result<Vec<ReportRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT public_id, category, text, status, photo IS NOT NULL AS has_photo, created_at \
         FROM reports WHERE resident_id = $1 ORDER BY created_at DESC LIMIT 5000"
    )
    .bind(resident)
    .fetch_all(c)
    .await?))
}
