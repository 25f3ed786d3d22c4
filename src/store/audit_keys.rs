//! The keys that seal personal values in the audit chain, one per owner, kept outside it.

use super::{Db, Result, Tx};
use crate::keys::seal::SealKey;
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The keys of `owners`, creating those that do not exist yet (in the caller's transaction,
/// so a key is never made for an entry that is not written).
pub async fn for_sealing(
    tx: &mut Tx,
    owners: &[String],
    now: DateTime<Utc>,
) -> Result<HashMap<String, SealKey>> {
    let mut out = HashMap::with_capacity(owners.len());
    for owner in owners {
        if out.contains_key(owner) {
            continue;
        }
        let fresh = SealKey::generate();
        let key: Vec<u8> = on_tx!(tx, |c| {
            sqlx::query(
                "INSERT INTO audit_keys (owner, key, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (owner) DO NOTHING",
            )
            .bind(owner)
            .bind(fresh.as_bytes())
            .bind(now)
            .execute(&mut *c)
            .await?;
            sqlx::query_scalar("SELECT key FROM audit_keys WHERE owner = $1")
                .bind(owner)
                .fetch_one(&mut *c)
                .await?
        });
        let key = SealKey::from_slice(&key)
            .ok_or_else(|| super::StoreError::Corrupt("audit_keys.key is not 32 bytes".into()))?;
        out.insert(owner.clone(), key);
    }
    Ok(out)
}

/// The keys of `owners` that still exist, for reading.
pub async fn existing(db: &Db, owners: &[String]) -> Result<HashMap<String, SealKey>> {
    let mut out = HashMap::new();
    for chunk in owners.chunks(500) {
        let rows: Vec<(String, Vec<u8>)> = on_db!(db, |c| {
            let mut q =
                sqlx::QueryBuilder::new("SELECT owner, key FROM audit_keys WHERE owner IN (");
            let mut sep = q.separated(", ");
            for o in chunk {
                sep.push_bind(o.clone());
            }
            q.push(")");
            q.build_query_as().fetch_all(c).await?
        });
        out.extend(
            rows.into_iter()
                .filter_map(|(o, k)| SealKey::from_slice(&k).map(|k| (o, k))),
        );
    }
    Ok(out)
}

/// Destroys keys: whatever they sealed is forgotten for good. Returns how many there were.
pub async fn destroy(tx: &mut Tx, owners: &[String]) -> Result<u64> {
    let mut n = 0;
    for chunk in owners.chunks(500) {
        n += on_tx!(tx, |c| {
            let mut q = sqlx::QueryBuilder::new("DELETE FROM audit_keys WHERE owner IN (");
            let mut sep = q.separated(", ");
            for o in chunk {
                sep.push_bind(o.clone());
            }
            q.push(")");
            q.build().execute(c).await?.rows_affected()
        });
    }
    Ok(n)
}

/// How many keys are held: (residents', seasons').
pub async fn counts(db: &Db) -> Result<(i64, i64)> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
            "SELECT CAST(COUNT(*) FILTER (WHERE owner LIKE 'resident:%') AS BIGINT), \
             CAST(COUNT(*) FILTER (WHERE owner NOT LIKE 'resident:%') AS BIGINT) FROM audit_keys",
        )
        .fetch_one(c)
        .await?
    }))
}

/// Destroys every key (the season's end).
pub async fn destroy_all(tx: &mut Tx) -> Result<u64> {
    Ok(on_tx!(tx, |c| sqlx::query("DELETE FROM audit_keys")
        .execute(c)
        .await?
        .rows_affected()))
}
