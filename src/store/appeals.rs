//! Appeals against a colour.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppealRow {
    pub id: i64,
    pub public_id: Uuid,
    pub resident_id: i64,
    pub resident_public_id: Uuid,
    pub text: String,
    pub colour: i32,
    pub created_at: DateTime<Utc>,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    /// Where the resident is, for the jurisdiction filter.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

const COLUMNS: &str = "SELECT a.id, a.public_id, a.resident_id, r.public_id AS resident_public_id, a.text, a.colour, \
    a.created_at, a.status, a.decided_by, a.decided_at, a.decision_reason, r.lat, r.lon FROM appeals a JOIN residents r ON r.id = a.resident_id";

pub async fn insert(
    tx: &mut Tx,
    public_id: Uuid,
    resident_id: i64,
    text: &str,
    colour: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("INSERT INTO appeals (public_id, resident_id, text, colour, created_at, status) VALUES ($1, $2, $3, $4, $5, 'open')")
            .bind(public_id)
            .bind(resident_id)
            .bind(text)
            .bind(colour)
            .bind(now)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Open appeals first, oldest first (the overdue ones lead); then decided ones, newest first.
pub async fn list(db: &Db) -> Result<Vec<AppealRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS} ORDER BY CASE WHEN a.status = 'open' THEN 0 ELSE 1 END, \
         CASE WHEN a.status = 'open' THEN a.id ELSE -a.id END LIMIT 500"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

pub async fn get(db: &Db, public_id: Uuid) -> Result<Option<AppealRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE a.public_id = $1"));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

pub async fn get_tx(tx: &mut super::Tx, public_id: Uuid) -> Result<Option<AppealRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE a.public_id = $1"));
    Ok(crate::on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

pub async fn of_resident(db: &Db, resident_id: i64) -> Result<Vec<AppealRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE a.resident_id = $1 ORDER BY a.id DESC"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(resident_id)
        .fetch_all(c)
        .await?))
}

/// Decides an open appeal once; `false` if it was decided already.
pub async fn decide(
    tx: &mut Tx,
    id: i64,
    upheld: bool,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query("UPDATE appeals SET status = $2, decided_by = $3, decided_at = $4, decision_reason = $5 WHERE id = $1 AND status = 'open'")
            .bind(id)
            .bind(if upheld { "upheld" } else { "rejected" })
            .bind(by)
            .bind(now)
            .bind(reason)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}
