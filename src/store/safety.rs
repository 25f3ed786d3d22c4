//! "I am safe" reports: the latest per resident.

use super::{Result, Tx};
use crate::on_tx;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub struct SafetyRow<'a> {
    pub resident_id: i64,
    pub status: &'a str,
    pub note: Option<&'a str>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub by: &'a str,
}

/// Keeps the latest word.
pub async fn record(tx: &mut Tx, r: &SafetyRow<'_>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO safety_checks (resident_id, status, note, lat, lon, reported_at, reported_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (resident_id) DO UPDATE SET \
             status = excluded.status, note = excluded.note, lat = excluded.lat, lon = excluded.lon, \
             reported_at = excluded.reported_at, reported_by = excluded.reported_by",
        )
        .bind(r.resident_id)
        .bind(r.status)
        .bind(r.note)
        .bind(r.lat)
        .bind(r.lon)
        .bind(now)
        .bind(r.by)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Acknowledges the resident's latest alert, if any; its public id.
pub async fn acknowledge_latest_alert(
    tx: &mut Tx,
    resident_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(
        "UPDATE alert_recipients SET acknowledged_at = COALESCE(acknowledged_at, $2) \
         WHERE resident_id = $1 AND alert_id = \
           (SELECT MAX(alert_id) FROM alert_recipients WHERE resident_id = $1) \
         RETURNING (SELECT public_id FROM alerts WHERE id = alert_id)"
    )
    .bind(resident_id)
    .bind(now)
    .fetch_optional(c)
    .await?))
}
