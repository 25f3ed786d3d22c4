//! Hazard reports.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub struct NewReportRow<'a> {
    pub public_id: Uuid,
    pub resident_id: i64,
    pub category: &'a str,
    pub text: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub urgent: bool,
    pub photo: Option<(&'a [u8], &'a str)>,
}

pub async fn insert(tx: &mut Tx, r: &NewReportRow<'_>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO reports (public_id, resident_id, category, text, lat, lon, urgent, status, \
             photo, photo_type, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8, $9, $10, $10)",
        )
        .bind(r.public_id)
        .bind(r.resident_id)
        .bind(r.category)
        .bind(r.text)
        .bind(r.lat)
        .bind(r.lon)
        .bind(r.urgent)
        .bind(r.photo.map(|p| p.0))
        .bind(r.photo.map(|p| p.1))
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub public_id: Uuid,
    pub category: String,
    pub text: String,
    pub lat: f64,
    pub lon: f64,
    pub urgent: bool,
    pub status: String,
    pub note: Option<String>,
    pub has_photo: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "public_id, category, text, lat, lon, urgent, status, note, \
    (photo IS NOT NULL) AS has_photo, created_at, updated_at";

pub struct Filter<'a> {
    pub status: Option<&'a str>,
    pub category: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    /// Bounding box (min_lon, min_lat, max_lon, max_lat), refined by the caller.
    pub bbox: Option<(f64, f64, f64, f64)>,
    pub limit: i64,
}

/// Urgent first, then newest.
pub async fn list(db: &Db, f: &Filter<'_>) -> Result<Vec<ReportRow>> {
    let (x0, y0, x1, y1) = f.bbox.unwrap_or((-180.0, -90.0, 180.0, 90.0));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reports WHERE ($1 IS NULL OR status = $1) \
         AND ($2 IS NULL OR category = $2) AND ($3 IS NULL OR created_at >= $3) \
         AND lon >= $4 AND lat >= $5 AND lon <= $6 AND lat <= $7 \
         ORDER BY urgent DESC, created_at DESC LIMIT $8"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(f.status)
        .bind(f.category)
        .bind(f.since)
        .bind(x0)
        .bind(y0)
        .bind(x1)
        .bind(y1)
        .bind(f.limit)
        .fetch_all(c)
        .await?))
}

pub async fn get_tx(tx: &mut Tx, public_id: Uuid) -> Result<Option<ReportRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reports WHERE public_id = $1"
    ));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

/// Moves a report on, only from the status it was read in (a concurrent change wins).
pub async fn set_status(
    tx: &mut Tx,
    public_id: Uuid,
    from: &str,
    to: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE reports SET status = $3, note = COALESCE($4, note), updated_at = $5 \
         WHERE public_id = $1 AND status = $2"
    )
    .bind(public_id)
    .bind(from)
    .bind(to)
    .bind(note)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected());
    Ok(n == 1)
}

/// A report's photo (if it has one) with where the report was made (for the jurisdiction
/// check, made before anyone learns whether there is a photo).
pub struct Photo {
    pub photo: Option<(Vec<u8>, String)>,
    pub lat: f64,
    pub lon: f64,
}

pub async fn photo(db: &Db, public_id: Uuid) -> Result<Option<Photo>> {
    type Row = (Option<Vec<u8>>, Option<String>, f64, f64);
    let row: Option<Row> = on_db!(db, |c| sqlx::query_as(
        "SELECT photo, photo_type, lat, lon FROM reports WHERE public_id = $1"
    )
    .bind(public_id)
    .fetch_optional(c)
    .await?);
    Ok(row.map(|(p, t, lat, lon)| Photo {
        photo: p.zip(t),
        lat,
        lon,
    }))
}
