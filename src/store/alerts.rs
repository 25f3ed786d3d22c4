//! Alerts, their recipients (snapshotted when sent) and acknowledgements.

use super::{Db, Result, Tx};
use crate::domain::Need;
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

pub struct AlertInsert<'a> {
    pub public_id: Uuid,
    pub msg_type: &'a str,
    pub references_id: Option<i64>,
    pub category: &'a str,
    pub event: &'a str,
    pub response_type: &'a str,
    pub urgency: &'a str,
    pub severity: &'a str,
    pub certainty: &'a str,
    pub headline: &'a str,
    pub description: &'a str,
    pub instruction: &'a str,
    pub zones: &'a [Uuid],
    pub expires_at: Option<DateTime<Utc>>,
    pub incident_id: Option<Uuid>,
    pub escalate_at: Option<DateTime<Utc>>,
    pub areas: &'a [AreaSnapshot],
    pub sent_by: &'a str,
    pub language: &'a str,
    pub translation: Option<&'a crate::domain::alert::AlertText>,
    pub escalate_every_secs: Option<i64>,
}

/// A target area as it was when the alert was sent: its name and GeoJSON geometry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AreaSnapshot {
    pub desc: String,
    pub geometry: serde_json::Value,
}

pub async fn insert(tx: &mut Tx, a: &AlertInsert<'_>, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO alerts (public_id, msg_type, references_id, category, event, response_type, \
         urgency, severity, certainty, headline, description, instruction, zones, expires_at, \
         incident_id, sent_by, sent_at, escalate_at, areas, language, translation, \
         escalate_every_secs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22) \
         RETURNING id"
    )
    .bind(a.public_id)
    .bind(a.msg_type)
    .bind(a.references_id)
    .bind(a.category)
    .bind(a.event)
    .bind(a.response_type)
    .bind(a.urgency)
    .bind(a.severity)
    .bind(a.certainty)
    .bind(a.headline)
    .bind(a.description)
    .bind(a.instruction)
    .bind(Json(a.zones))
    .bind(a.expires_at)
    .bind(a.incident_id)
    .bind(a.sent_by)
    .bind(now)
    .bind(a.escalate_at)
    .bind(Json(a.areas))
    .bind(a.language)
    .bind(a.translation.map(Json))
    .bind(a.escalate_every_secs)
    .fetch_one(c)
    .await?
    }))
}

/// Makes the zones' members now the alert's recipients, in one statement (a resident in
/// several of the zones once, under the first zone).
pub async fn snapshot_recipients(tx: &mut Tx, alert_id: i64, zone_ids: &[i64]) -> Result<()> {
    insert_recipients(
        tx,
        alert_id,
        "(alert_id, resident_id, zone_id)",
        ", m.resident_id, MIN(m.zone_id) FROM zone_members m WHERE m.zone_id IN (",
        zone_ids,
        ") GROUP BY m.resident_id",
    )
    .await
}

/// `INSERT INTO alert_recipients {columns} SELECT alert_id{select}{ids}{tail}`: one statement
/// for a list of ids bound as parameters.
async fn insert_recipients(
    tx: &mut Tx,
    alert_id: i64,
    columns: &str,
    select: &str,
    ids: &[i64],
    tail: &str,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    on_tx!(tx, |c| {
        let mut q =
            sqlx::QueryBuilder::new(format!("INSERT INTO alert_recipients {columns} SELECT "));
        q.push_bind(alert_id).push(select);
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(tail);
        q.build().execute(&mut *c).await?;
    });
    Ok(())
}

/// Located residents inside a bounding box (lon/lat): the candidates for a drawn area.
pub async fn residents_in_box(
    tx: &mut Tx,
    min: (f64, f64),
    max: (f64, f64),
) -> Result<Vec<(i64, f64, f64)>> {
    Ok(on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, lat, lon FROM residents WHERE lon BETWEEN $1 AND $2 AND lat BETWEEN $3 AND $4"
    )
    .bind(min.0)
    .bind(max.0)
    .bind(min.1)
    .bind(max.1)
    .fetch_all(c)
    .await?))
}

const IDS_PER_STATEMENT: usize = 10_000;

/// Adds residents reached through a drawn area (no zone); those already recipients through
/// a zone stay as they are.
pub async fn add_area_recipients(tx: &mut Tx, alert_id: i64, residents: &[i64]) -> Result<()> {
    for chunk in residents.chunks(IDS_PER_STATEMENT) {
        insert_recipients(
            tx,
            alert_id,
            "(alert_id, resident_id)",
            ", id FROM residents WHERE id IN (",
            chunk,
            ") ON CONFLICT (alert_id, resident_id) DO NOTHING",
        )
        .await?;
    }
    Ok(())
}

/// Counts the recipients onto the alert; how many.
pub async fn count_recipients(tx: &mut Tx, alert_id: i64) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
        "UPDATE alerts SET recipients = (SELECT COUNT(*) FROM alert_recipients WHERE alert_id = $1) \
         WHERE id = $1 RETURNING CAST(recipients AS BIGINT)",
    )
    .bind(alert_id)
    .fetch_one(c)
    .await?
    }))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub public_id: Uuid,
    pub msg_type: String,
    pub references_public_id: Option<Uuid>,
    pub category: String,
    pub event: String,
    pub response_type: String,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub zones: Json<Vec<Uuid>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub incident_id: Option<Uuid>,
    pub recipients: i32,
    pub sent_by: String,
    pub sent_at: DateTime<Utc>,
    pub references_sent_at: Option<DateTime<Utc>>,
    pub areas: Option<Json<Vec<AreaSnapshot>>>,
    pub language: String,
    pub translation: Option<Json<crate::domain::alert::AlertText>>,
}

const ALERT_COLUMNS: &str = "a.id, a.public_id, a.msg_type, ref.public_id AS references_public_id, \
    a.category, a.event, a.response_type, a.urgency, a.severity, a.certainty, a.headline, \
    a.description, a.instruction, a.zones, a.expires_at, a.incident_id, a.recipients, a.sent_by, \
    a.sent_at, ref.sent_at AS references_sent_at, a.areas, a.language, a.translation";
const ALERT_FROM: &str = "FROM alerts a LEFT JOIN alerts ref ON ref.id = a.references_id";

pub async fn get(db: &Db, public_id: Uuid) -> Result<Option<AlertRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} {ALERT_FROM} WHERE a.public_id = $1"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

pub async fn get_by_id(db: &Db, id: i64) -> Result<Option<AlertRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} {ALERT_FROM} WHERE a.id = $1"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(c)
        .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InboxRow {
    #[sqlx(flatten)]
    pub alert: AlertRow,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// A resident's alerts, newest first.
pub async fn inbox(db: &Db, resident_id: i64, limit: i64) -> Result<Vec<InboxRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS}, r.acknowledged_at {ALERT_FROM} \
         JOIN alert_recipients r ON r.alert_id = a.id WHERE r.resident_id = $1 \
         ORDER BY a.sent_at DESC, a.id DESC LIMIT $2"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(resident_id)
        .bind(limit)
        .fetch_all(c)
        .await?))
}

/// Records the first acknowledgement (a repeat keeps the first time); `None` if the
/// resident was not a recipient.
pub async fn acknowledge(
    db: &Db,
    alert_id: i64,
    resident_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let mut tx = db.begin().await?;
    let at: Option<Option<DateTime<Utc>>> = on_tx!(&mut tx, |c| sqlx::query_scalar(
        "UPDATE alert_recipients SET acknowledged_at = COALESCE(acknowledged_at, $3) \
         WHERE alert_id = $1 AND resident_id = $2 RETURNING acknowledged_at"
    )
    .bind(alert_id)
    .bind(resident_id)
    .bind(now)
    .fetch_optional(c)
    .await?);
    tx.commit().await?;
    Ok(at.flatten())
}

/// Per zone: (zone id, name, recipients, acknowledged, reached); those reached through a
/// drawn area alone come last, without a zone.
pub async fn per_zone(
    db: &Db,
    alert_id: i64,
) -> Result<Vec<(Option<Uuid>, Option<String>, i64, i64, i64)>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
        "SELECT zid, zname, n, acked, reached FROM ( \
         SELECT z.public_id AS zid, z.name AS zname, COUNT(*) AS n, COUNT(r.acknowledged_at) AS acked, \
         COUNT(r.reached_at) AS reached FROM alert_recipients r \
         LEFT JOIN zones z ON z.id = r.zone_id WHERE r.alert_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM alerts WHERE id = $1 AND anonymised_at IS NOT NULL) \
         GROUP BY z.public_id, z.name \
         UNION ALL SELECT zone_public_id, zone_name, recipients, acknowledged, reached \
         FROM alert_zone_counts WHERE alert_id = $1) t ORDER BY zname IS NULL, zname"
    )
    .bind(alert_id)
    .fetch_all(c)
    .await?
    }))
}

/// What an anonymised alert kept: (acknowledged, median seconds to acknowledge); None while
/// its recipient list is still there.
pub async fn kept_counts(db: &Db, alert_id: i64) -> Result<Option<(i64, Option<i64>)>> {
    let row: Option<(Option<i64>, Option<i64>)> = on_db!(db, |c| sqlx::query_as(
        "SELECT CAST(acknowledged_count AS BIGINT), median_ack_secs FROM alerts \
         WHERE id = $1 AND anonymised_at IS NOT NULL"
    )
    .bind(alert_id)
    .fetch_optional(c)
    .await?);
    Ok(row.map(|(a, m)| (a.unwrap_or(0), m)))
}

/// Every acknowledgement time, earliest first.
pub async fn ack_times(db: &Db, alert_id: i64) -> Result<Vec<DateTime<Utc>>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT acknowledged_at FROM alert_recipients WHERE alert_id = $1 \
         AND acknowledged_at IS NOT NULL ORDER BY acknowledged_at"
    )
    .bind(alert_id)
    .fetch_all(c)
    .await?))
}

/// A recipient with the contact details an official needs to reach them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecipientRow {
    pub public_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub needs: Json<Vec<Need>>,
    pub zone: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub reached_at: Option<DateTime<Utc>>,
}

/// Recipients, those with needs first, then by registration; `acknowledged` filters.
pub async fn recipients(
    db: &Db,
    alert_id: i64,
    acknowledged: Option<bool>,
    offset: i64,
    limit: i64,
) -> Result<Vec<RecipientRow>> {
    let filter = match acknowledged {
        None => "",
        Some(true) => "AND r.acknowledged_at IS NOT NULL",
        Some(false) => "AND r.acknowledged_at IS NULL",
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT p.public_id, p.name, p.phone, p.address, p.needs, z.name AS zone, r.acknowledged_at, \
         r.reached_at \
         FROM alert_recipients r JOIN residents p ON p.id = r.resident_id LEFT JOIN zones z ON z.id = r.zone_id \
         WHERE r.alert_id = $1 {filter} \
         ORDER BY CASE WHEN CAST(p.needs AS TEXT) IN ('[]', '') THEN 1 ELSE 0 END, p.id \
         LIMIT $2 OFFSET $3"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(alert_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(c)
        .await?))
}

/// Queues a message on `channel` for every recipient who has not acknowledged, has a phone,
/// and was not sent this alert on this channel since `quiet_since` (one statement); returns
/// how many.
pub async fn queue_pending(
    tx: &mut Tx,
    alert_id: i64,
    channel: &str,
    body: &Bodies,
    now: DateTime<Utc>,
    quiet_since: DateTime<Utc>,
) -> Result<u64> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "INSERT INTO outbox (channel, alert_id, resident_id, phone, body, created_at) \
         SELECT $2, r.alert_id, r.resident_id, p.phone, \
         CASE WHEN p.language = 'en' THEN $6 ELSE $3 END, $4 FROM alert_recipients r \
         JOIN residents p ON p.id = r.resident_id \
         WHERE r.alert_id = $1 AND r.acknowledged_at IS NULL AND p.phone IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = r.alert_id \
             AND o.resident_id = r.resident_id AND o.channel = $2 AND o.created_at > $5)"
    )
    .bind(alert_id)
    .bind(channel)
    .bind(&body.zh)
    .bind(now)
    .bind(quiet_since)
    .bind(&body.en)
    .execute(c)
    .await?
    .rows_affected()))
}

/// A message in each language a resident may read (the same text twice when an alert has
/// no translation).
#[derive(Debug, Clone)]
pub struct Bodies {
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub alert_public_id: Uuid,
    pub phone: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Undelivered messages of a channel, oldest first.
pub async fn outbox(db: &Db, channel: &str, after: i64, limit: i64) -> Result<Vec<OutboxRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT o.id, o.channel, a.public_id AS alert_public_id, o.phone, o.body, o.created_at \
         FROM outbox o JOIN alerts a ON a.id = o.alert_id \
         WHERE o.channel = $1 AND o.delivered_at IS NULL AND o.cancelled_at IS NULL AND o.id > $2 \
         AND NOT EXISTS (SELECT 1 FROM alert_recipients r WHERE r.alert_id = o.alert_id \
             AND r.resident_id = o.resident_id AND r.acknowledged_at IS NOT NULL) \
         ORDER BY o.id LIMIT $3"
    )
    .bind(channel)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// Marks a message delivered; `false` if there is no such undelivered message.
pub async fn delivered(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<bool> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
        == 1))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub alert_id: i64,
    pub alert_public_id: Uuid,
    pub msg_type: String,
    pub headline: String,
    pub severity: String,
    pub urgency: String,
    pub response_type: String,
    pub resident_public_id: Uuid,
    pub phone: String,
    pub body: String,
    pub attempts: i32,
}

/// Claimed webhook messages with what the receiver is told of their alert and resident.
pub async fn webhook_rows(tx: &mut Tx, ids: &[i64]) -> Result<Vec<WebhookRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_tx!(tx, |c| {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT o.id, o.alert_id, a.public_id AS alert_public_id, a.msg_type, a.headline, \
             a.severity, a.urgency, a.response_type, p.public_id AS resident_public_id, o.phone, \
             o.body, o.attempts FROM outbox o JOIN alerts a ON a.id = o.alert_id \
             JOIN residents p ON p.id = o.resident_id WHERE o.id IN (",
        );
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        q.push(") ORDER BY o.id");
        q.build_query_as().fetch_all(&mut *c).await?
    }))
}

/// Alerts for a public feed, newest first: not expired (those without an expiry: sent since
/// `since`), not cancelled.
pub async fn active(db: &Db, now: DateTime<Utc>, since: DateTime<Utc>) -> Result<Vec<AlertRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} {ALERT_FROM} \
         WHERE (a.expires_at > $1 OR (a.expires_at IS NULL AND a.sent_at >= $2)) \
         AND NOT EXISTS (SELECT 1 FROM alerts c WHERE c.references_id = a.id AND c.msg_type = 'Cancel') \
         ORDER BY a.sent_at DESC, a.id DESC LIMIT 500"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .bind(since)
        .fetch_all(c)
        .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummaryRow {
    #[sqlx(flatten)]
    pub alert: AlertRow,
    pub acknowledged: i64,
}

/// The latest alerts with how many acknowledged each, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<SummaryRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS}, COALESCE(CAST(a.acknowledged_count AS BIGINT), \
         (SELECT COUNT(*) FROM alert_recipients r WHERE r.alert_id = a.id \
         AND r.acknowledged_at IS NOT NULL)) AS acknowledged {ALERT_FROM} \
         ORDER BY a.sent_at DESC, a.id DESC LIMIT $1"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(limit)
        .fetch_all(c)
        .await?))
}
