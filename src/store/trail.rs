//! What a resident's trail is read from, besides the audit chain: decisions by two officials
//! that named them (alone or in a bulk override), the evacuation orders over the zones they
//! live in, the rule sets put in force, their shelter stays and the relief they received.

use super::{Db, Result};
use crate::on_db;
use chrono::{DateTime, Utc};

/// A change two officials decide, that concerned this resident.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DecisionRow {
    pub kind: String,
    pub colour: Option<i32>,
    pub reason_code: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn decisions(db: &Db, resident: i64, limit: i64) -> Result<Vec<DecisionRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT kind, colour, reason_code, requested_by, requested_at, status, decided_by, \
         decided_at, expires_at FROM approvals WHERE resident_id = $1 \
         OR id IN (SELECT approval_id FROM overrides WHERE resident_id = $1) \
         ORDER BY requested_at DESC LIMIT $2"
    )
    .bind(resident)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// Rule sets put in force (they may move everyone's colour).
pub async fn rule_activations(db: &Db, limit: i64) -> Result<Vec<(i64, DateTime<Utc>)>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT rule_version, decided_at FROM approvals WHERE kind = 'rules' \
         AND status = 'approved' AND decided_at IS NOT NULL AND rule_version IS NOT NULL \
         ORDER BY decided_at DESC LIMIT $1"
    )
    .bind(limit)
    .fetch_all(c)
    .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub level: i32,
    pub reason: String,
    pub zone: String,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<DateTime<Utc>>,
}

/// Orders over the zones the resident lives in now.
pub async fn orders_over(db: &Db, resident: i64, limit: i64) -> Result<Vec<OrderRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT o.level, o.reason, z.name AS zone, o.issued_by, o.issued_at, o.lifted_by, \
         o.lifted_at FROM orders o JOIN zone_members m ON m.zone_id = o.zone_id \
         JOIN zones z ON z.id = o.zone_id WHERE m.resident_id = $1 \
         ORDER BY o.issued_at DESC LIMIT $2"
    )
    .bind(resident)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StayRow {
    pub shelter: String,
    pub checked_in_at: DateTime<Utc>,
    pub checked_in_by: String,
    pub checked_out_at: Option<DateTime<Utc>>,
    pub checked_out_by: Option<String>,
    pub checkout_reason: Option<String>,
}

pub async fn stays(db: &Db, resident: i64, limit: i64) -> Result<Vec<StayRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT s.name AS shelter, t.checked_in_at, t.checked_in_by, t.checked_out_at, \
         t.checked_out_by, t.checkout_reason FROM stays t JOIN shelters s ON s.id = t.shelter_id \
         WHERE t.resident_id = $1 ORDER BY t.checked_in_at DESC LIMIT $2"
    )
    .bind(resident)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReliefRow {
    pub item: String,
    pub unit: String,
    pub quantity: i64,
    pub shelter: String,
    pub given_at: DateTime<Utc>,
    pub given_by: String,
}

pub async fn relief(db: &Db, resident: i64, limit: i64) -> Result<Vec<ReliefRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT i.name AS item, i.unit, CAST(d.quantity AS BIGINT) AS quantity, \
         s.name AS shelter, d.given_at, d.given_by FROM distributions d \
         JOIN relief_items i ON i.id = d.item_id JOIN shelters s ON s.id = d.shelter_id \
         WHERE d.resident_id = $1 ORDER BY d.given_at DESC LIMIT $2"
    )
    .bind(resident)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// The audit entries about a subject, newest first: (at, actor, action, after).
pub async fn audit_about(
    db: &Db,
    subject: &str,
    limit: i64,
) -> Result<Vec<(DateTime<Utc>, String, String, Option<String>)>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT at, actor, action, after FROM audit_log WHERE subject = $1 \
         ORDER BY seq DESC LIMIT $2"
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(c)
    .await?))
}
