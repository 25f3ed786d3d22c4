//! Relief items and their per-day quotas. Usage grows only through one upsert that refuses to
//! pass the quota, so two desks at two shelters cannot hand out more than the quota between
//! them.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub unit: String,
    pub quota: i32,
    pub per: String,
    pub created_at: DateTime<Utc>,
}

const ITEM: &str = "SELECT id, public_id, name, unit, quota, per, created_at FROM relief_items";

pub struct NewItem<'a> {
    pub public_id: Uuid,
    pub name: &'a str,
    pub unit: &'a str,
    pub quota: i32,
    pub per: &'a str,
    pub created_by: &'a str,
}

pub async fn insert_item(tx: &mut Tx, i: &NewItem<'_>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO relief_items (public_id, name, unit, quota, per, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(i.public_id)
    .bind(i.name)
    .bind(i.unit)
    .bind(i.quota)
    .bind(i.per)
    .bind(i.created_by)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())?);
    Ok(())
}

pub async fn items(db: &Db) -> Result<Vec<ItemRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{ITEM} ORDER BY id"));
    Ok(on_db!(db, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

pub async fn item_in(tx: &mut Tx, public_id: Uuid) -> Result<Option<ItemRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{ITEM} WHERE public_id = $1"));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

/// Adds `n` to the day's usage if that keeps it within `quota`, in one statement: the new
/// total, or `None` when it would pass the quota (nothing changed).
pub async fn consume(
    tx: &mut Tx,
    item_id: i64,
    subject_id: i64,
    day: NaiveDate,
    n: i32,
    quota: i32,
) -> Result<Option<i32>> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO relief_usage (item_id, subject_id, day, used) SELECT $1, $2, $3, $4 WHERE $4 <= $5 \
         ON CONFLICT (item_id, subject_id, day) DO UPDATE SET used = relief_usage.used + excluded.used \
         WHERE relief_usage.used + excluded.used <= $5 RETURNING used"
    )
    .bind(item_id)
    .bind(subject_id)
    .bind(day)
    .bind(n)
    .bind(quota)
    .fetch_optional(c)
    .await?
    }))
}

/// What has been used today (0 when nothing).
pub async fn used(tx: &mut Tx, item_id: i64, subject_id: i64, day: NaiveDate) -> Result<i32> {
    let used: Option<i32> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT used FROM relief_usage WHERE item_id = $1 AND subject_id = $2 AND day = $3"
    )
    .bind(item_id)
    .bind(subject_id)
    .bind(day)
    .fetch_optional(c)
    .await?);
    Ok(used.unwrap_or(0))
}

pub struct NewDistribution<'a> {
    pub public_id: Uuid,
    pub shelter_id: i64,
    pub item_id: i64,
    pub resident_id: i64,
    pub quantity: i32,
    pub day: NaiveDate,
    pub by: &'a str,
}

pub async fn record(tx: &mut Tx, d: &NewDistribution<'_>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO distributions (public_id, shelter_id, item_id, resident_id, quantity, day, given_at, given_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(d.public_id)
    .bind(d.shelter_id)
    .bind(d.item_id)
    .bind(d.resident_id)
    .bind(d.quantity)
    .bind(d.day)
    .bind(now)
    .bind(d.by)
    .execute(c)
    .await
    .map(|_| ())?
    });
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DistributionRow {
    pub id: i64,
    pub public_id: Uuid,
    pub item_id: Uuid,
    pub item_name: String,
    pub unit: String,
    /// None once the incident's data was anonymised: the count stays, the person goes.
    pub resident_id: Option<Uuid>,
    pub quantity: i32,
    pub given_at: DateTime<Utc>,
    pub given_by: String,
}

/// A shelter's distributions of one day, in order, paged by id.
pub async fn of_day(
    db: &Db,
    shelter_id: i64,
    day: NaiveDate,
    after: i64,
    limit: i64,
) -> Result<Vec<DistributionRow>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
        "SELECT d.id, d.public_id, i.public_id AS item_id, i.name AS item_name, i.unit, \
         r.public_id AS resident_id, d.quantity, d.given_at, d.given_by \
         FROM distributions d JOIN relief_items i ON i.id = d.item_id LEFT JOIN residents r ON r.id = d.resident_id \
         WHERE d.shelter_id = $1 AND d.day = $2 AND d.id > $3 ORDER BY d.id LIMIT $4"
    )
    .bind(shelter_id)
    .bind(day)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await?
    }))
}
