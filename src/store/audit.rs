//! The append-only, hash-chained audit log.

use super::{Db, Result, StoreError, Tx};
use crate::domain::audit::AuditRecord;
use crate::domain::{AuditDraft, ChainHash};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// Appends one entry in the caller's transaction. The update of the chain's head row comes
/// first: it serialises concurrent appenders (row lock on PostgreSQL, the write lock on
/// SQLite) until the caller's transaction ends, so the chain never forks.
pub async fn append(tx: &mut Tx, draft: &AuditDraft, now: DateTime<Utc>) -> Result<AuditRecord> {
    on_tx!(tx, |c| {
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *c)
                .await?;
        let seq: i64 = head.try_get("seq")?;
        let prev: Vec<u8> = head.try_get("hash")?;
        let prev = ChainHash::from_slice(&prev)
            .ok_or_else(|| StoreError::Corrupt("audit_head.hash is not 32 bytes".into()))?;
        let record = AuditRecord::from_draft(seq, now, draft);
        let hash = record.chain_hash(&prev);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, before, after, reason, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(record.seq)
        .bind(record.at)
        .bind(&record.actor)
        .bind(&record.action)
        .bind(&record.subject)
        .bind(&record.before)
        .bind(&record.after)
        .bind(&record.reason)
        .bind(&prev.0[..])
        .bind(&hash.0[..])
        .execute(&mut *c)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash.0[..])
            .execute(&mut *c)
            .await?;
        Ok(record)
    })
}

/// Appends several entries with three statements whatever their number: the head moves by
/// all of them at once, the records are inserted in one multi-row INSERT (per 500), the head
/// takes the last hash. What a batch of admissions writes.
pub async fn append_many(tx: &mut Tx, drafts: &[AuditDraft], now: DateTime<Utc>) -> Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    let k = drafts.len() as i64;
    on_tx!(tx, |c| {
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(k)
                .fetch_one(&mut *c)
                .await?;
        let last: i64 = head.try_get("seq")?;
        let prev: Vec<u8> = head.try_get("hash")?;
        let mut prev = ChainHash::from_slice(&prev)
            .ok_or_else(|| StoreError::Corrupt("audit_head.hash is not 32 bytes".into()))?;
        let mut rows = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.iter().enumerate() {
            let record = AuditRecord::from_draft(last - k + 1 + i as i64, now, d);
            let hash = record.chain_hash(&prev);
            rows.push((record, prev, hash));
            prev = hash;
        }
        for chunk in rows.chunks(500) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO audit_log (seq, at, actor, action, subject, before, after, reason, prev_hash, hash) ",
            );
            q.push_values(chunk, |mut b, (r, p, h)| {
                b.push_bind(r.seq)
                    .push_bind(r.at)
                    .push_bind(r.actor.clone())
                    .push_bind(r.action.clone())
                    .push_bind(r.subject.clone())
                    .push_bind(r.before.clone())
                    .push_bind(r.after.clone())
                    .push_bind(r.reason.clone())
                    .push_bind(p.0.to_vec())
                    .push_bind(h.0.to_vec());
            });
            q.build().execute(&mut *c).await?;
        }
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&prev.0[..])
            .execute(&mut *c)
            .await?;
        Ok(())
    })
}

/// Takes the chain's lock without appending yet. A transaction that reads many rows and then
/// writes (zone membership) takes it first, so that no registration commits in between
/// unseen; every writer of colour-moving facts queues on it.
pub async fn lock_chain(tx: &mut Tx) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(c)
            .await?;
    });
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subjects: Option<Vec<String>>,
    pub since: Option<DateTime<Utc>>,
    pub after_seq: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub record: AuditRecord,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

fn entry<R: Row>(row: &R) -> Result<StoredEntry, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(StoredEntry {
        record: AuditRecord {
            seq: row.try_get("seq")?,
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            subject: row.try_get("subject")?,
            before: row.try_get("before")?,
            after: row.try_get("after")?,
            reason: row.try_get("reason")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

const COLUMNS: &str =
    "SELECT seq, at, actor, action, subject, before, after, reason, prev_hash, hash FROM audit_log";

pub async fn list(db: &Db, f: &Filter) -> Result<Vec<StoredEntry>> {
    on_db!(db, |c| {
        let mut q = sqlx::QueryBuilder::new(COLUMNS);
        q.push(" WHERE 1 = 1");
        if let Some(a) = &f.actor {
            q.push(" AND actor = ").push_bind(a.clone());
        }
        if let Some(a) = &f.action {
            q.push(" AND action = ").push_bind(a.clone());
        }
        if let Some(subjects) = &f.subjects {
            q.push(" AND subject IN (");
            let mut sep = q.separated(", ");
            for s in subjects {
                sep.push_bind(s.clone());
            }
            q.push(")");
        }
        if let Some(t) = f.since {
            q.push(" AND at >= ").push_bind(t);
        }
        if let Some(s) = f.after_seq {
            q.push(" AND seq > ").push_bind(s);
        }
        q.push(" ORDER BY seq LIMIT ").push_bind(f.limit);
        let rows = q.build().fetch_all(c).await?;
        rows.iter()
            .map(|r| entry(r).map_err(StoreError::from))
            .collect()
    })
}

/// A page of the chain in order, for verification.
pub async fn page(db: &Db, after_seq: i64, limit: i64) -> Result<Vec<StoredEntry>> {
    on_db!(db, |c| {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE seq > $1 ORDER BY seq LIMIT $2"));
        let rows = sqlx::query(sql)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(c)
            .await?;
        rows.iter()
            .map(|r| entry(r).map_err(StoreError::from))
            .collect()
    })
}

/// The chain's tip as the head row records it.
pub async fn head(db: &Db) -> Result<(i64, Vec<u8>)> {
    on_db!(db, |c| {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(c)
            .await?;
        Ok((row.try_get("seq")?, row.try_get("hash")?))
    })
}

/// The chain hash of entry `seq`, if there is one.
pub async fn hash_at(db: &Db, seq: i64) -> Result<Option<Vec<u8>>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_optional(c)
            .await?
    }))
}

/// Keeps a signed head (the same head signed again replaces the older signature).
pub async fn save_anchor(
    db: &Db,
    seq: i64,
    hash: &[u8],
    signed_at: DateTime<Utc>,
    cose: &[u8],
) -> Result<()> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "INSERT INTO audit_anchors (seq, hash, signed_at, cose) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (seq) DO UPDATE SET signed_at = excluded.signed_at, cose = excluded.cose",
        )
        .bind(seq)
        .bind(hash)
        .bind(signed_at)
        .bind(cose)
        .execute(c)
        .await?;
    });
    tx.commit().await
}

/// The newest signed heads' COSE bytes, newest first.
pub async fn recent_anchors(db: &Db, limit: i64) -> Result<Vec<Vec<u8>>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT cose FROM audit_anchors ORDER BY seq DESC LIMIT $1")
            .bind(limit)
            .fetch_all(c)
            .await?
    }))
}
