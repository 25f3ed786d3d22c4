//! Idempotency records: a request retried with the same key is applied once.

use super::{Result, Tx};
use crate::on_tx;
use chrono::{DateTime, Utc};
use sqlx::Row;

pub enum Claim {
    /// First time this key is seen: go ahead, then [`complete`].
    New,
    /// Seen before with the same request: the stored answer.
    Replay { status: u16, body: String },
    /// Seen before with a different request.
    Mismatch,
}

/// How long a key is remembered: a client retries within minutes; after a day the record
/// (an answer that may name a resident) is not kept, and the key may be used afresh.
pub const KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Claims `key` inside the caller's transaction. On PostgreSQL a concurrent claim of the same
/// key waits for the first transaction to end and then sees its answer. A record older than
/// [`KEPT_FOR`] counts as gone.
pub async fn claim(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    request_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Claim> {
    on_tx!(tx, |c| {
        let fresh = sqlx::query(
            "INSERT INTO idempotency (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, \
             created_at = excluded.created_at, status = NULL, body = NULL \
             WHERE idempotency.created_at < $5",
        )
        .bind(scope)
        .bind(key)
        .bind(&request_hash[..])
        .bind(now)
        .bind(now - KEPT_FOR)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if fresh == 1 {
            return Ok(Claim::New);
        }
        let row = sqlx::query(
            "SELECT request_hash, status, body FROM idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_one(&mut *c)
        .await?;
        let stored: Vec<u8> = row.try_get("request_hash")?;
        let status: Option<i32> = row.try_get("status")?;
        let body: Option<String> = row.try_get("body")?;
        Ok(match (stored == request_hash[..], status, body) {
            (true, Some(status), Some(body)) => Claim::Replay {
                status: status as u16,
                body,
            },
            _ => Claim::Mismatch,
        })
    })
}

pub async fn complete(tx: &mut Tx, scope: &str, key: &str, status: u16, body: &str) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE idempotency SET status = $3, body = $4 WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .bind(i32::from(status))
            .bind(body)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Gives back a key claimed earlier in this transaction by a request that was then refused,
/// so that a retry is judged afresh (as if the transaction had rolled back).
pub async fn release(tx: &mut Tx, scope: &str, key: &str) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND status IS NULL")
            .bind(scope)
            .bind(key)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Forgets the records older than [`KEPT_FOR`]; returns how many.
pub async fn purge(db: &super::Db, now: DateTime<Utc>) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, |c| {
        sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(now - KEPT_FOR)
            .execute(c)
            .await?
            .rows_affected()
    });
    tx.commit().await?;
    Ok(n)
}
