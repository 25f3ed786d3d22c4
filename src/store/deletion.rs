//! Deleting a resident: what stands in the way, the queue of requests that wait, and the
//! traces beyond the resident row (messages, links, report text and photos, appeal text, the
//! "safe" mark, the document's hash) that go with them.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};

/// What needs the record now: an open stay, an open appeal, an order in force over their
/// zone.
pub async fn blockers(tx: &mut Tx, resident: i64, now: DateTime<Utc>) -> Result<Vec<&'static str>> {
    let (stay, appeal, order): (bool, bool, bool) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT \
         EXISTS (SELECT 1 FROM stays WHERE resident_id = $1 AND checked_out_at IS NULL), \
         EXISTS (SELECT 1 FROM appeals WHERE resident_id = $1 AND status = 'open'), \
         EXISTS (SELECT 1 FROM orders o JOIN zone_members m ON m.zone_id = o.zone_id \
             WHERE m.resident_id = $1 AND o.lifted_at IS NULL \
             AND (o.expires_at IS NULL OR o.expires_at > $2))"
    )
    .bind(resident)
    .bind(now)
    .fetch_one(c)
    .await?);
    Ok([(stay, "stay"), (appeal, "appeal"), (order, "order")]
        .into_iter()
        .filter_map(|(b, what)| b.then_some(what))
        .collect())
}

/// Records (or renews) a waiting request.
pub async fn queue(
    tx: &mut Tx,
    resident: i64,
    waiting_for: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO deletion_requests (resident_id, requested_at, waiting_for) VALUES ($1, $2, $3) \
         ON CONFLICT (resident_id) DO UPDATE SET waiting_for = excluded.waiting_for"
    )
    .bind(resident)
    .bind(now)
    .bind(waiting_for)
    .execute(c)
    .await
    .map(|_| ())?
    });
    Ok(())
}

/// Requests still waiting: (resident, public id).
pub async fn waiting(db: &Db, limit: i64) -> Result<Vec<(i64, uuid::Uuid)>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT d.resident_id, r.public_id FROM deletion_requests d \
         JOIN residents r ON r.id = d.resident_id WHERE d.done_at IS NULL \
         ORDER BY d.requested_at LIMIT $1"
    )
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// Marks a request done, once (several servers may try): whether this call did.
pub async fn claim_done(tx: &mut Tx, resident: i64, now: DateTime<Utc>) -> Result<bool> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "INSERT INTO deletion_requests (resident_id, requested_at, waiting_for, done_at) \
         VALUES ($1, $2, '', $2) \
         ON CONFLICT (resident_id) DO UPDATE SET done_at = excluded.done_at, waiting_for = '' \
         WHERE deletion_requests.done_at IS NULL"
    )
    .bind(resident)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
        == 1))
}

/// Removes what else was kept about the resident; the counts that are not about them (an
/// alert's recipients, a shelter's stays, relief handed out) keep their rows.
pub async fn erase_traces(tx: &mut Tx, resident: i64, scrambled_doc: &[u8]) -> Result<()> {
    on_tx!(tx, |c| {
        for sql in [
            "DELETE FROM provider_messages WHERE outbox_id IN \
             (SELECT id FROM outbox WHERE resident_id = $1)",
            "DELETE FROM outbox WHERE resident_id = $1",
            "DELETE FROM ack_links WHERE resident_id = $1",
            "DELETE FROM safety_checks WHERE resident_id = $1",
            "UPDATE reports SET text = '', note = NULL, photo = NULL, photo_type = NULL \
             WHERE resident_id = $1",
            "UPDATE appeals SET text = '', decision_reason = NULL WHERE resident_id = $1",
            "UPDATE approvals SET reason_text = '', decision_reason = NULL, payload = NULL \
             WHERE resident_id = $1 AND status <> 'pending'",
        ] {
            sqlx::query(sql).bind(resident).execute(&mut *c).await?;
        }
        sqlx::query("UPDATE residents SET doc_hash = $2, id_last4 = '' WHERE id = $1")
            .bind(resident)
            .bind(scrambled_doc)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Deletions queued and not carried out yet.
pub async fn waiting_count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM deletion_requests WHERE done_at IS NULL"
    )
    .fetch_one(c)
    .await?))
}
