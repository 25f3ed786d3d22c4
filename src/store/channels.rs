//! The channels an alert leaves by, beyond the inbox: SMS parts a gateway accepted and the
//! receipts it sent back, one-tap acknowledgement links, the villages' and incidents'
//! contacts (DingTalk robots, email) and the messages queued for them, and the door-to-door
//! list escalation ends in.

use super::{Db, Result, Tx};
use crate::domain::Need;
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// A binding list `($n, $n+1, …)` for `ids`.
fn push_ids<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, ids: &[i64])
where
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.push("(");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
}

/// Outbox rows of channel `$4` that may be sent: not sent, given up or set aside.
const OUTBOX_DUE: &str = "channel = $4 AND cancelled_at IS NULL";

/// The lease both queues take: counts an attempt on up to `$3` rows of `table` that match
/// `filter` and are due at `$1`, and holds them until `$2`, when another server may take them
/// (a server that died mid-send leaves them to the next).
fn lease_sql(table: &str, filter: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET attempts = attempts + 1, next_attempt_at = $2 \
         WHERE id IN (SELECT id FROM {table} WHERE {filter} AND delivered_at IS NULL \
             AND failed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
             ORDER BY id LIMIT $3) \
         AND (next_attempt_at IS NULL OR next_attempt_at <= $1) RETURNING id"
    ))
}

/// Whether a row of `table` matching `filter` is due at `$1` (a read, so an idle server does
/// not take the write lock to find nothing).
fn due_sql(table: &str, filter: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM {table} WHERE {filter} AND delivered_at IS NULL \
         AND failed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $1))"
    ))
}

/// An outbox message a sending channel claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub alert_id: i64,
    pub resident_id: i64,
    pub phone: String,
    pub body: String,
    pub attempts: i32,
}

/// Claims up to `limit` due messages of `channel` until `lease_until` (another server skips
/// them meanwhile), counts the attempt, and sets aside those whose recipient acknowledged
/// since they were queued: escalation stops for a person the moment they read the alert.
pub async fn claim(
    tx: &mut Tx,
    channel: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>> {
    Ok(on_tx!(tx, |c| {
        let ids: Vec<i64> = sqlx::query_scalar(lease_sql("outbox", OUTBOX_DUE))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .bind(channel)
            .fetch_all(&mut *c)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new("UPDATE outbox SET cancelled_at = ");
        q.push_bind(now).push(" WHERE id IN ");
        push_ids(&mut q, &ids);
        q.push(
            " AND EXISTS (SELECT 1 FROM alert_recipients r WHERE r.alert_id = outbox.alert_id \
             AND r.resident_id = outbox.resident_id AND r.acknowledged_at IS NOT NULL)",
        );
        q.build().execute(&mut *c).await?;
        let mut q = sqlx::QueryBuilder::new(
            "SELECT id, alert_id, resident_id, phone, body, attempts FROM outbox WHERE id IN ",
        );
        push_ids(&mut q, &ids);
        q.push(" AND cancelled_at IS NULL ORDER BY id");
        q.build_query_as().fetch_all(&mut *c).await?
    }))
}

/// Whether a message of `channel` waits to be sent now.
pub async fn due(db: &Db, channel: &str, now: DateTime<Utc>) -> Result<bool> {
    let sql = due_sql("outbox", "channel = $2 AND cancelled_at IS NULL");
    Ok(on_db!(db, |c| sqlx::query_scalar(sql)
        .bind(now)
        .bind(channel)
        .fetch_one(c)
        .await?))
}

/// Marks outbox messages handed over (every part accepted). A gateway may send its receipts
/// before this: whoever's parts have all come back already is reached now.
pub async fn sent(db: &Db, ids: &[i64], now: DateTime<Utc>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut t = db.begin().await?;
    on_tx!(&mut t, |tx| {
        let mut q = sqlx::QueryBuilder::new("UPDATE outbox SET delivered_at = ");
        q.push_bind(now).push(" WHERE id IN ");
        push_ids(&mut q, ids);
        q.build().execute(&mut *tx).await?;
        let mut q = sqlx::QueryBuilder::new(
            "SELECT o.alert_id, o.resident_id FROM outbox o WHERE o.id IN ",
        );
        push_ids(&mut q, ids);
        q.push(
            " AND EXISTS (SELECT 1 FROM provider_messages p WHERE p.outbox_id = o.id) \
             AND NOT EXISTS (SELECT 1 FROM provider_messages p WHERE p.outbox_id = o.id \
                 AND p.receipt_at IS NULL)",
        );
        let early: Vec<(i64, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        for (alert, resident) in early {
            sqlx::query(
                "UPDATE alert_recipients SET reached_at = COALESCE(reached_at, $3) \
                 WHERE alert_id = $1 AND resident_id = $2",
            )
            .bind(alert)
            .bind(resident)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    });
    t.commit().await?;
    Ok(())
}

/// Puts outbox messages back for a later attempt, or gives them up (`retry_at` = None).
pub async fn retry(
    db: &Db,
    ids: &[i64],
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        let mut q = sqlx::QueryBuilder::new("UPDATE outbox SET next_attempt_at = ");
        q.push_bind(retry_at).push(", failed_at = ");
        q.push_bind(retry_at.is_none().then_some(now))
            .push(" WHERE id IN ");
        push_ids(&mut q, ids);
        q.build().execute(&mut *c).await?;
    });
    tx.commit().await?;
    Ok(())
}

/// The parts of a message the gateway already accepted.
pub async fn accepted_parts(db: &Db, outbox_id: i64) -> Result<Vec<i32>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT part FROM provider_messages WHERE outbox_id = $1 ORDER BY part"
    )
    .bind(outbox_id)
    .fetch_all(c)
    .await?))
}

/// Records parts the gateway accepted, each under its message id: (id, message, part). A
/// repeat of the same id (a gateway that answers a retried request with the first answer)
/// changes nothing.
pub async fn accepted(
    db: &Db,
    channel: &str,
    parts: &[(String, i64, i32)],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = db.begin().await?;
    for chunk in parts.chunks(500) {
        on_tx!(&mut tx, |c| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO provider_messages (channel, provider_id, outbox_id, part, accepted_at) ",
            );
            q.push_values(chunk, |mut b, (id, outbox, part)| {
                b.push_bind(channel)
                    .push_bind(id.clone())
                    .push_bind(*outbox)
                    .push_bind(*part)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut *c).await?;
        });
    }
    tx.commit().await?;
    Ok(())
}

/// What a delivery receipt changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// No message has this id.
    Unknown,
    /// This receipt was seen before: nothing counted again.
    Repeat,
    /// Recorded; whether the recipient now counts as reached (every part arrived).
    Recorded { reached: bool },
}

/// Records a "delivered" receipt for a gateway's message id, once; when every part of the
/// person's message has arrived, they are reached.
pub async fn receipt(
    tx: &mut Tx,
    channel: &str,
    provider_id: &str,
    now: DateTime<Utc>,
) -> Result<Receipt> {
    Ok(on_tx!(tx, |c| {
        let outbox_id: Option<i64> = sqlx::query_scalar(
            "UPDATE provider_messages SET receipt_at = $3 WHERE channel = $1 AND provider_id = $2 \
             AND receipt_at IS NULL RETURNING outbox_id",
        )
        .bind(channel)
        .bind(provider_id)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?;
        let Some(outbox_id) = outbox_id else {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM provider_messages WHERE channel = $1 \
                 AND provider_id = $2)",
            )
            .bind(channel)
            .bind(provider_id)
            .fetch_one(&mut *c)
            .await?;
            return Ok(if known {
                Receipt::Repeat
            } else {
                Receipt::Unknown
            });
        };
        let reached = sqlx::query(
            "UPDATE alert_recipients SET reached_at = $2 \
             WHERE alert_id = (SELECT alert_id FROM outbox WHERE id = $1) \
             AND resident_id = (SELECT resident_id FROM outbox WHERE id = $1) \
             AND reached_at IS NULL \
             AND EXISTS (SELECT 1 FROM outbox WHERE id = $1 AND delivered_at IS NOT NULL) \
             AND NOT EXISTS (SELECT 1 FROM provider_messages WHERE outbox_id = $1 \
                 AND receipt_at IS NULL)",
        )
        .bind(outbox_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
            == 1;
        Receipt::Recorded { reached }
    }))
}

/// A pulling gateway's report that it delivered a message (an SMS arrived, a call was
/// answered): the recipient is reached.
pub async fn reached_by_outbox(tx: &mut Tx, outbox_id: i64, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE alert_recipients SET reached_at = COALESCE(reached_at, $2) \
         WHERE alert_id = (SELECT alert_id FROM outbox WHERE id = $1) \
         AND resident_id = (SELECT resident_id FROM outbox WHERE id = $1)"
    )
    .bind(outbox_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())?);
    Ok(())
}

/// Stores acknowledgement links by their tokens' hashes: (hash, alert id, resident id).
pub async fn insert_ack_links(
    db: &Db,
    links: &[(Vec<u8>, i64, i64)],
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<()> {
    let mut tx = db.begin().await?;
    for chunk in links.chunks(1000) {
        on_tx!(&mut tx, |c| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO ack_links (token_hash, alert_id, resident_id, created_at, expires_at) ",
            );
            q.push_values(chunk, |mut b, (hash, alert, resident)| {
                b.push_bind(hash.clone())
                    .push_bind(*alert)
                    .push_bind(*resident)
                    .push_bind(now)
                    .push_bind(expires);
            });
            q.build().execute(&mut *c).await?;
        });
    }
    tx.commit().await?;
    Ok(())
}

/// What using an acknowledgement link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUse {
    /// Used now: the alert and the resident it acknowledges for.
    Fresh {
        alert_id: i64,
        resident_id: i64,
    },
    Used,
    Expired,
    Unknown,
}

/// Uses a link once: the first use within its life wins, in one statement.
pub async fn use_ack_link(tx: &mut Tx, hash: &[u8], now: DateTime<Utc>) -> Result<LinkUse> {
    Ok(on_tx!(tx, |c| {
        let fresh: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE ack_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2 RETURNING alert_id, resident_id",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?;
        if let Some((alert_id, resident_id)) = fresh {
            return Ok(LinkUse::Fresh {
                alert_id,
                resident_id,
            });
        }
        let seen: Option<(Option<DateTime<Utc>>,)> =
            sqlx::query_as("SELECT used_at FROM ack_links WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(&mut *c)
                .await?;
        match seen {
            None => LinkUse::Unknown,
            Some((Some(_),)) => LinkUse::Used,
            Some((None,)) => LinkUse::Expired,
        }
    }))
}

/// The language a resident reads alerts in.
pub async fn resident_language(tx: &mut Tx, resident_id: i64) -> Result<String> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT language FROM residents WHERE id = $1"
    )
    .bind(resident_id)
    .fetch_one(c)
    .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub public_id: Uuid,
    pub kind: String,
    pub name: String,
    pub zone_id: Option<i64>,
    pub zone_public_id: Option<Uuid>,
    pub zone_name: Option<String>,
    pub incident_id: Option<Uuid>,
    pub address: String,
    pub secret: Option<String>,
    pub language: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

const CONTACT_COLUMNS: &str = "k.id, k.public_id, k.kind, k.name, k.zone_id, z.public_id AS zone_public_id, \
    z.name AS zone_name, k.incident_id, k.address, k.secret, k.language, k.created_by, k.created_at";

pub struct ContactInsert<'a> {
    pub public_id: Uuid,
    pub kind: &'a str,
    pub name: &'a str,
    pub zone_id: Option<i64>,
    pub incident_id: Option<Uuid>,
    pub address: &'a str,
    pub secret: Option<&'a str>,
    pub language: &'a str,
    pub created_by: &'a str,
}

pub async fn insert_contact(tx: &mut Tx, k: &ContactInsert<'_>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO alert_contacts (public_id, kind, name, zone_id, incident_id, address, secret, \
         language, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(k.public_id)
    .bind(k.kind)
    .bind(k.name)
    .bind(k.zone_id)
    .bind(k.incident_id)
    .bind(k.address)
    .bind(k.secret)
    .bind(k.language)
    .bind(k.created_by)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())?);
    Ok(())
}

/// Contacts not removed, newest first.
pub async fn contacts(db: &Db) -> Result<Vec<ContactRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM alert_contacts k LEFT JOIN zones z ON z.id = k.zone_id \
         WHERE k.removed_at IS NULL ORDER BY k.created_at DESC, k.id DESC LIMIT 1000"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql).fetch_all(c).await?))
}

pub async fn contact(db: &Db, public_id: Uuid) -> Result<Option<ContactRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM alert_contacts k LEFT JOIN zones z ON z.id = k.zone_id \
         WHERE k.public_id = $1 AND k.removed_at IS NULL"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

/// Removes a contact; what is queued for it is dropped with it.
pub async fn remove_contact(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE alert_contacts SET removed_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "UPDATE contact_messages SET failed_at = $2 WHERE contact_id = $1 \
             AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// The contacts of an alert's villages and incident: those set for one of `zone_ids`, or
/// for `incident`.
pub async fn contacts_for(
    tx: &mut Tx,
    zone_ids: &[i64],
    incident: Option<Uuid>,
) -> Result<Vec<ContactRow>> {
    Ok(on_tx!(tx, |c| {
        let mut q = sqlx::QueryBuilder::new(format!(
            "SELECT {CONTACT_COLUMNS} FROM alert_contacts k LEFT JOIN zones z ON z.id = k.zone_id \
             WHERE k.removed_at IS NULL AND ("
        ));
        q.push("k.incident_id = ").push_bind(incident);
        if !zone_ids.is_empty() {
            q.push(" OR k.zone_id IN ");
            push_ids(&mut q, zone_ids);
        }
        q.push(") ORDER BY k.id");
        q.build_query_as().fetch_all(&mut *c).await?
    }))
}

/// Queues a message for a contact, once per contact, alert and purpose; whether it was new.
pub async fn queue_contact_message(
    tx: &mut Tx,
    contact_id: i64,
    alert_id: i64,
    purpose: &str,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "INSERT INTO contact_messages (contact_id, alert_id, purpose, subject, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
    )
    .bind(contact_id)
    .bind(alert_id)
    .bind(purpose)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
        == 1))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactMessage {
    pub id: i64,
    pub kind: String,
    pub address: String,
    pub secret: Option<String>,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
}

/// Whether a contact message waits to be sent now.
pub async fn contact_messages_due(db: &Db, now: DateTime<Utc>) -> Result<bool> {
    Ok(on_db!(db, |c| sqlx::query_scalar(due_sql(
        "contact_messages",
        "TRUE"
    ))
    .bind(now)
    .fetch_one(c)
    .await?))
}

/// Claims due contact messages until `lease_until`, counting the attempt.
pub async fn claim_contact_messages(
    tx: &mut Tx,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ContactMessage>> {
    Ok(on_tx!(tx, |c| {
        let ids: Vec<i64> = sqlx::query_scalar(lease_sql("contact_messages", "TRUE"))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(
            "SELECT m.id, k.kind, k.address, k.secret, m.subject, m.body, m.attempts \
             FROM contact_messages m JOIN alert_contacts k ON k.id = m.contact_id WHERE m.id IN ",
        );
        push_ids(&mut q, &ids);
        q.push(" ORDER BY m.id");
        q.build_query_as().fetch_all(&mut *c).await?
    }))
}

/// Marks a contact message sent, or puts it back for later, or gives it up.
pub async fn contact_message_done(
    db: &Db,
    id: i64,
    outcome: Result<(), Option<DateTime<Utc>>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        let q = match outcome {
            Ok(()) => sqlx::query("UPDATE contact_messages SET delivered_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now),
            Err(retry_at) => sqlx::query(
                "UPDATE contact_messages SET next_attempt_at = $3, \
                 failed_at = CASE WHEN $3 IS NULL THEN $2 ELSE NULL END WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(retry_at),
        };
        q.execute(&mut *c).await?;
    });
    tx.commit().await?;
    Ok(())
}

/// Per zone of an alert (None: reached through a drawn area alone): how many recipients
/// have not acknowledged.
pub async fn pending_per_zone(tx: &mut Tx, alert_id: i64) -> Result<Vec<(Option<i64>, i64)>> {
    Ok(on_tx!(tx, |c| sqlx::query_as(
        "SELECT zone_id, COUNT(*) FROM alert_recipients WHERE alert_id = $1 \
         AND acknowledged_at IS NULL GROUP BY zone_id"
    )
    .bind(alert_id)
    .fetch_all(c)
    .await?))
}

/// A person still to reach, with where to find them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DoorRow {
    pub resident_id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub needs: Json<Vec<Need>>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub zone_id: Option<i64>,
    pub zone_public_id: Option<Uuid>,
    pub zone: Option<String>,
    pub reached_at: Option<DateTime<Utc>>,
}

/// Recipients who have not acknowledged, village by village (zone name; a drawn area's
/// last), those with needs first in each.
pub async fn door_to_door(db: &Db, alert_id: i64, offset: i64, limit: i64) -> Result<Vec<DoorRow>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
        "SELECT p.id AS resident_id, p.public_id, p.name, p.phone, p.address, p.needs, p.lat, \
         p.lon, r.zone_id, z.public_id AS zone_public_id, z.name AS zone, r.reached_at FROM alert_recipients r \
         JOIN residents p ON p.id = r.resident_id LEFT JOIN zones z ON z.id = r.zone_id \
         WHERE r.alert_id = $1 AND r.acknowledged_at IS NULL \
         ORDER BY z.name IS NULL, z.name, \
             CASE WHEN CAST(p.needs AS TEXT) IN ('[]', '') THEN 1 ELSE 0 END, p.id \
         LIMIT $2 OFFSET $3"
    )
    .bind(alert_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(c)
    .await?
    }))
}

/// What was tried for each of `residents` on an alert: (resident, channel, messages,
/// attempts, last queued, handed over, gave up).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tried {
    pub resident_id: i64,
    pub channel: String,
    pub messages: i64,
    pub attempts: i64,
    pub last_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

pub async fn tried(db: &Db, alert_id: i64, residents: &[i64]) -> Result<Vec<Tried>> {
    if residents.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_db!(db, |c| {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT resident_id, channel, COUNT(*) AS messages, \
             CAST(SUM(attempts) AS BIGINT) AS attempts, MAX(created_at) AS last_at, \
             MAX(delivered_at) AS sent_at, MAX(failed_at) AS failed_at FROM outbox \
             WHERE alert_id = ",
        );
        q.push_bind(alert_id).push(" AND resident_id IN ");
        push_ids(&mut q, residents);
        q.push(" GROUP BY resident_id, channel ORDER BY resident_id, MIN(created_at)");
        q.build_query_as().fetch_all(c).await?
    }))
}

/// How many recipients of an alert were reached (a receipt came back).
pub async fn reached_count(db: &Db, alert_id: i64) -> Result<i64> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM alert_recipients WHERE alert_id = $1 AND reached_at IS NOT NULL"
    )
    .bind(alert_id)
    .fetch_one(c)
    .await?))
}

/// Escalations whose next step is due: (id, public id, step done so far, seconds between
/// steps).
pub async fn due_escalations(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Uuid, i32, Option<i32>)>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT id, public_id, escalation_step, escalate_every_secs FROM alerts \
         WHERE escalate_at <= $1 AND escalated_at IS NULL ORDER BY escalate_at LIMIT 100"
    )
    .bind(now)
    .fetch_all(c)
    .await?))
}

/// Moves an alert's escalation from `step` to the next, once across servers: `next_at` the
/// step after, or None when this was the last (`escalated_at` set). Whether this call won.
pub async fn claim_step(
    tx: &mut Tx,
    id: i64,
    step: i32,
    next_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "UPDATE alerts SET escalation_step = $2 + 1, escalate_at = $3, \
         escalated_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END \
         WHERE id = $1 AND escalation_step = $2 AND escalated_at IS NULL AND escalate_at <= $4"
    )
    .bind(id)
    .bind(step)
    .bind(next_at)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
        == 1))
}

/// Whether an alert's escalation has run its last step.
pub async fn escalation_done(db: &Db, alert_id: i64) -> Result<bool> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT escalated_at IS NOT NULL FROM alerts WHERE id = $1"
    )
    .bind(alert_id)
    .fetch_one(c)
    .await?))
}

/// Sets the language of these residents.
pub async fn set_language(tx: &mut Tx, residents: &[i64], language: &str) -> Result<()> {
    on_tx!(tx, |c| {
        let mut q = sqlx::QueryBuilder::new("UPDATE residents SET language = ");
        q.push_bind(language).push(" WHERE id IN ");
        push_ids(&mut q, residents);
        q.build().execute(&mut *c).await?;
    });
    Ok(())
}

/// Sets the language of a resident and the dependents registered with them.
pub async fn set_household_language(tx: &mut Tx, head: i64, language: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE residents SET language = $2 WHERE id = $1 OR head_id = $1"
    )
    .bind(head)
    .bind(language)
    .execute(c)
    .await
    .map(|_| ())?);
    Ok(())
}
