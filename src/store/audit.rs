//! The append-only, hash-chained audit log.

use super::{Db, Result, StoreError, Tx};
use crate::domain::audit::{self, AuditRecord};
use crate::domain::{AuditDraft, ChainHash};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// Appends one entry in the caller's transaction. The update of the chain's head row comes
/// first: it serialises concurrent appenders (row lock on PostgreSQL, the write lock on
/// SQLite) until the caller's transaction ends, so the chain never forks. Personal values are
/// sealed before hashing (see [`seal`]).
pub async fn append(tx: &mut Tx, draft: &AuditDraft, now: DateTime<Utc>) -> Result<AuditRecord> {
    let (last, prev) = advance(tx, 1).await?;
    let mut records = [AuditRecord::from_draft(last, now, draft)];
    seal(tx, &mut records, &[draft], now).await?;
    let [record] = records;
    insert(tx, &[(record.clone(), prev, record.chain_hash(&prev))]).await?;
    super::status_lists::mark_moved(tx, &[audit::colour_scope(draft)], last).await?;
    Ok(record)
}

/// Appends several entries with three statements whatever their number (and one more per
/// key a new owner needs): the head moves by all of them at once, the records are inserted
/// in one multi-row INSERT (per 500), the head takes the last hash. What a batch of
/// admissions writes.
pub async fn append_many(tx: &mut Tx, drafts: &[AuditDraft], now: DateTime<Utc>) -> Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    let k = drafts.len() as i64;
    let (last, mut prev) = advance(tx, k).await?;
    let mut records: Vec<AuditRecord> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| AuditRecord::from_draft(last - k + 1 + i as i64, now, d))
        .collect();
    let refs: Vec<&AuditDraft> = drafts.iter().collect();
    seal(tx, &mut records, &refs, now).await?;
    let mut rows = Vec::with_capacity(records.len());
    for record in records {
        let hash = record.chain_hash(&prev);
        rows.push((record, prev, hash));
        prev = hash;
    }
    insert(tx, &rows).await?;
    let scopes: Vec<_> = drafts.iter().map(audit::colour_scope).collect();
    super::status_lists::mark_moved(tx, &scopes, last).await
}

/// Moves the head by `k` entries: (the new last seq, the hash before the first new entry).
async fn advance(tx: &mut Tx, k: i64) -> Result<(i64, ChainHash)> {
    on_tx!(tx, |c| {
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(k)
                .fetch_one(&mut *c)
                .await?;
        let last: i64 = head.try_get("seq")?;
        let prev: Vec<u8> = head.try_get("hash")?;
        let prev = ChainHash::from_slice(&prev)
            .ok_or_else(|| StoreError::Corrupt("audit_head.hash is not 32 bytes".into()))?;
        Ok((last, prev))
    })
}

/// Writes hashed records and moves the head's hash to the last one.
async fn insert(tx: &mut Tx, rows: &[(AuditRecord, ChainHash, ChainHash)]) -> Result<()> {
    let Some((_, _, last)) = rows.last() else {
        return Ok(());
    };
    on_tx!(tx, |c| {
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
            .bind(&last.0[..])
            .execute(&mut *c)
            .await?;
        Ok(())
    })
}

/// Seals the personal values of `records` (drafted from `drafts`) under their owners' keys,
/// creating keys as needed: the chain then hashes only ciphertext, and destroying a key
/// forgets what it sealed while every link still verifies.
pub async fn seal(
    tx: &mut Tx,
    records: &mut [AuditRecord],
    drafts: &[&AuditDraft],
    now: DateTime<Utc>,
) -> Result<()> {
    let owners: Vec<String> = drafts
        .iter()
        .zip(records.iter())
        .map(|(d, r)| audit::key_owner(d, r.at))
        .collect();
    seal_as(tx, records, &owners, now).await
}

/// [`seal`] with the owners given (the reseal of entries written before sealing).
pub async fn seal_as(
    tx: &mut Tx,
    records: &mut [AuditRecord],
    owners: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    let wanted: Vec<(usize, Vec<(String, String)>)> = records
        .iter()
        .zip(owners)
        .map(|(r, o)| audit::personal_fields(r, o))
        .enumerate()
        .filter(|(_, f)| !f.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut need: Vec<String> = wanted.iter().map(|(i, _)| owners[*i].clone()).collect();
    need.sort();
    need.dedup();
    let keys = super::audit_keys::for_sealing(tx, &need, now).await?;
    for (i, fields) in wanted {
        let owner = &owners[i];
        let Some(key) = keys.get(owner) else {
            continue;
        };
        let r = &mut records[i];
        let sealed: Vec<(String, String)> = fields
            .into_iter()
            .map(|(field, plain)| {
                let context = audit::seal_context(owner, r.seq, &field);
                let text = format!(
                    "{}{owner}:{}",
                    audit::SEALED,
                    key.seal(&context, plain.as_bytes())
                );
                (field, text)
            })
            .collect();
        audit::replace_fields(r, &sealed);
    }
    Ok(())
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

/// The signed head at exactly `seq`, if one was kept.
pub async fn anchor_at(db: &Db, seq: i64) -> Result<Option<Vec<u8>>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT cose FROM audit_anchors WHERE seq = $1")
            .bind(seq)
            .fetch_optional(c)
            .await?
    }))
}

/// The chain's re-anchoring entries: (their seq, their `after`).
pub async fn reseals(db: &Db) -> Result<Vec<(i64, Option<String>)>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
            "SELECT seq, after FROM audit_log WHERE action = 'audit.reseal' ORDER BY seq",
        )
        .fetch_all(c)
        .await?
    }))
}

/// The hash entry `seq` had before it was resealed.
pub async fn legacy_hash(db: &Db, seq: i64) -> Result<Option<Vec<u8>>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT hash FROM audit_legacy WHERE seq = $1")
            .bind(seq)
            .fetch_optional(c)
            .await?
    }))
}

/// Lets this transaction rewrite sealed fields and links (`on`), or no longer: the
/// append-only guard otherwise refuses any change.
pub async fn reseal_mode(tx: &mut Tx, on: bool) -> Result<()> {
    match tx {
        Tx::Sqlite(t) => {
            let sql = if on {
                "INSERT INTO meta (key, value) VALUES ('audit_resealing', '1') ON CONFLICT (key) DO NOTHING"
            } else {
                "DELETE FROM meta WHERE key = 'audit_resealing'"
            };
            sqlx::query(sql).execute(&mut **t).await?;
        }
        Tx::Postgres(t, _) => {
            let sql = if on {
                "SET LOCAL safecode.audit_reseal = 'on'"
            } else {
                "SET LOCAL safecode.audit_reseal = 'off'"
            };
            sqlx::query(sql).execute(&mut **t).await?;
        }
    }
    Ok(())
}

/// Rewrites entries resealed: their new content and links, keeping each old hash in
/// `audit_legacy`.
pub async fn rewrite(
    tx: &mut Tx,
    rows: &[(AuditRecord, ChainHash, ChainHash, Vec<u8>)],
) -> Result<()> {
    on_tx!(tx, |c| {
        for (r, prev, hash, old) in rows {
            sqlx::query(
                "UPDATE audit_log SET before = $2, after = $3, reason = $4, prev_hash = $5, hash = $6 \
                 WHERE seq = $1",
            )
            .bind(r.seq)
            .bind(&r.before)
            .bind(&r.after)
            .bind(&r.reason)
            .bind(&prev.0[..])
            .bind(&hash.0[..])
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "INSERT INTO audit_legacy (seq, hash) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING",
            )
            .bind(r.seq)
            .bind(old)
            .execute(&mut *c)
            .await?;
        }
        Ok(())
    })
}

/// Points the head row at `hash` (after a rewrite of the entries up to it).
pub async fn set_head_hash(tx: &mut Tx, hash: &ChainHash) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash.0[..])
            .execute(c)
            .await?;
    });
    Ok(())
}

/// A page of the chain read inside a transaction (the reseal holds the chain's lock).
pub async fn page_tx(tx: &mut Tx, after_seq: i64, limit: i64) -> Result<Vec<StoredEntry>> {
    on_tx!(tx, |c| {
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

/// The head as this transaction sees it.
pub async fn head_tx(tx: &mut Tx) -> Result<(i64, Vec<u8>)> {
    on_tx!(tx, |c| {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(c)
            .await?;
        Ok((row.try_get("seq")?, row.try_get("hash")?))
    })
}
