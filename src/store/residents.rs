//! Residents: registration one by one and in bulk, reads, fact updates.

use super::{Db, Result, Tx};
use crate::domain::{Flag, Need};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use std::collections::HashSet;
use uuid::Uuid;

/// One resident as stored. Personal data stays here: the ID number only as a keyed hash
/// plus its last four characters.
#[derive(Debug, Clone)]
pub struct ResidentRow {
    pub public_id: Uuid,
    pub status_index: i32,
    pub head_id: Option<i64>,
    pub name: String,
    pub id_type: &'static str,
    pub id_hash: [u8; 32],
    pub id_last4: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub birth_year: Option<i32>,
    pub needs: Vec<Need>,
    pub source: &'static str,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Yes(i64),
    /// A resident with the same identity document exists.
    DuplicateDocument,
    /// The drawn status slot is taken: draw another.
    SlotTaken,
}

const COLUMNS: &str = "INSERT INTO residents (public_id, status_index, head_id, name, id_type, \
    id_hash, id_last4, phone, address, lat, lon, birth_year, needs, flags, source, created_at, \
    updated_at) ";

macro_rules! push_row_body {
    ($b:ident, $r:ident) => {
        $b.push_bind($r.public_id)
            .push_bind($r.status_index)
            .push_bind($r.head_id)
            .push_bind($r.name.clone())
            .push_bind($r.id_type)
            .push_bind($r.id_hash.to_vec())
            .push_bind($r.id_last4.clone())
            .push_bind($r.phone.clone())
            .push_bind($r.address.clone())
            .push_bind($r.lat)
            .push_bind($r.lon)
            .push_bind($r.birth_year)
            .push_bind(Json($r.needs.clone()))
            .push_bind(Json(Vec::<Flag>::new()))
            .push_bind($r.source)
            .push_bind($r.now)
            .push_bind($r.now);
    };
}

pub async fn insert_one(tx: &mut Tx, r: &ResidentRow) -> Result<Inserted> {
    on_tx!(tx, |c| {
        let mut q = QueryBuilder::new(COLUMNS);
        q.push_values(std::iter::once(r), |mut b, r| {
            push_row_body!(b, r);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING id");
        let id: Option<i64> = q.build_query_scalar().fetch_optional(&mut *c).await?;
        if let Some(id) = id {
            return Ok(Inserted::Yes(id));
        }
        let dup: Option<i64> = sqlx::query_scalar("SELECT id FROM residents WHERE id_hash = $1")
            .bind(&r.id_hash[..])
            .fetch_optional(&mut *c)
            .await?;
        Ok(if dup.is_some() {
            Inserted::DuplicateDocument
        } else {
            Inserted::SlotTaken
        })
    })
}

/// Inserts many rows in one statement. Returns, per row, whether it was inserted, is a
/// duplicate document, or drew a taken slot (the caller re-draws and retries those).
pub async fn insert_many(tx: &mut Tx, rows: &[ResidentRow]) -> Result<Vec<Inserted>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    on_tx!(tx, |c| {
        let mut q = QueryBuilder::new(COLUMNS);
        q.push_values(rows, |mut b, r| {
            push_row_body!(b, r);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING id, id_hash");
        let done: Vec<(i64, Vec<u8>)> = q
            .build()
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let inserted: std::collections::HashMap<Vec<u8>, i64> =
            done.into_iter().map(|(id, h)| (h, id)).collect();
        let missing: Vec<&ResidentRow> = rows
            .iter()
            .filter(|r| !inserted.contains_key(&r.id_hash[..]))
            .collect();
        let mut existing: HashSet<Vec<u8>> = HashSet::new();
        if !missing.is_empty() {
            let mut q = QueryBuilder::new("SELECT id_hash FROM residents WHERE id_hash IN (");
            let mut sep = q.separated(", ");
            for r in &missing {
                sep.push_bind(r.id_hash.to_vec());
            }
            q.push(")");
            let found: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(&mut *c).await?;
            existing.extend(found);
        }
        let mut inserted = inserted;
        // The same document twice in one statement: the first line wins, the second is a
        // duplicate (DO NOTHING skipped it).
        let mut seen: HashSet<&[u8]> = HashSet::new();
        Ok(rows
            .iter()
            .map(|r| {
                if let Some(id) = inserted.remove(&r.id_hash[..]) {
                    seen.insert(&r.id_hash[..]);
                    Inserted::Yes(id)
                } else if seen.contains(&r.id_hash[..]) || existing.contains(&r.id_hash[..]) {
                    Inserted::DuplicateDocument
                } else {
                    Inserted::SlotTaken
                }
            })
            .collect())
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResidentRecord {
    pub id: i64,
    pub public_id: Uuid,
    pub status_index: i32,
    pub head_public_id: Option<Uuid>,
    pub name: String,
    pub id_type: String,
    pub id_last4: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub birth_year: Option<i32>,
    pub needs: Json<Vec<Need>>,
    pub flags: Json<Vec<Flag>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT r.id, r.public_id, r.status_index, h.public_id AS head_public_id, \
    r.name, r.id_type, r.id_last4, r.phone, r.address, r.lat, r.lon, r.birth_year, r.needs, \
    r.flags, r.created_at, r.updated_at FROM residents r LEFT JOIN residents h ON h.id = r.head_id ";

pub async fn by_public_id(db: &Db, id: Uuid) -> Result<Option<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.public_id = $1"));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(id).fetch_optional(c).await?
    }))
}

pub async fn by_public_id_tx(tx: &mut Tx, id: Uuid) -> Result<Option<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.public_id = $1"));
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(sql).bind(id).fetch_optional(c).await?
    }))
}

pub async fn by_id_tx(tx: &mut Tx, id: i64) -> Result<Option<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1"));
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(sql).bind(id).fetch_optional(c).await?
    }))
}

/// The residents registered with this one as head of household.
pub async fn dependents(db: &Db, head_id: i64) -> Result<Vec<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.head_id = $1 ORDER BY r.id"));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(head_id).fetch_all(c).await?
    }))
}

pub struct Facts<'a> {
    pub needs: &'a [Need],
    pub flags: &'a [Flag],
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<&'a str>,
    pub phone: Option<&'a str>,
}

pub async fn update_facts(tx: &mut Tx, id: i64, f: &Facts<'_>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE residents SET needs = $2, flags = $3, lat = $4, lon = $5, address = $6, \
             phone = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(Json(f.needs))
        .bind(Json(f.flags))
        .bind(f.lat)
        .bind(f.lon)
        .bind(f.address)
        .bind(f.phone)
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Every status slot in use, for drawing free ones in bulk.
pub async fn status_indexes(db: &Db) -> Result<Vec<i32>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT status_index FROM residents")
            .fetch_all(c)
            .await?
    }))
}

/// A resident's public id from the id inside the database.
pub async fn public_id_of(tx: &mut Tx, id: i64) -> Result<Uuid> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT public_id FROM residents WHERE id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await?))
}

/// The first `limit` residents in registration order.
pub async fn first(db: &Db, limit: i64) -> Result<Vec<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY r.id LIMIT $1"));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(limit).fetch_all(c).await?
    }))
}

/// Where each of these residents (by public id) is: (public id, lat, lon).
pub async fn locations_of(
    db: &Db,
    public_ids: &[Uuid],
) -> Result<Vec<(Uuid, Option<f64>, Option<f64>)>> {
    let mut out = Vec::with_capacity(public_ids.len());
    for chunk in public_ids.chunks(500) {
        let rows: Vec<(Uuid, Option<f64>, Option<f64>)> = on_db!(db, |c| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT public_id, lat, lon FROM residents WHERE public_id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            q.push(")");
            q.build_query_as().fetch_all(c).await?
        });
        out.extend(rows);
    }
    Ok(out)
}
