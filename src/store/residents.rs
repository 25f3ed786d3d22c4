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
    /// The keyed hash of the identity document.
    pub doc_hash: [u8; 32],
    /// A keyed value unique to this record: its `id_hash` when the document is already held
    /// by another record (a claim).
    pub claim_hash: [u8; 32],
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

/// What became of one self-registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Stored as the holder of its document.
    Holder(i64),
    /// Stored as a claim: another record holds the same identity document.
    Claim(i64),
    /// The drawn status slot is taken: draw another.
    SlotTaken,
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
    id_hash, doc_hash, standing, id_last4, phone, address, lat, lon, birth_year, needs, flags, \
    source, created_at, updated_at) ";

/// Records that still stand for someone (a retired record is kept only as a trace).
pub const LIVE: &str = "r.standing <> 'retired'";

/// What a record is to its identity document (see migrations/sqlite/0013).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The one record that holds the document.
    Primary,
    /// Registered while another record held the document; works as any record until an
    /// official settles who is who.
    Claim,
    /// Taken out by two officials: anonymised, its codes revoked.
    Retired,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Primary => "primary",
            Standing::Claim => "claim",
            Standing::Retired => "retired",
        }
    }
}

macro_rules! push_row_body {
    ($b:ident, $r:ident, $standing:expr) => {
        $b.push_bind($r.public_id)
            .push_bind($r.status_index)
            .push_bind($r.head_id)
            .push_bind($r.name.clone())
            .push_bind($r.id_type)
            .push_bind(match $standing {
                Standing::Primary => $r.doc_hash.to_vec(),
                _ => $r.claim_hash.to_vec(),
            })
            .push_bind($r.doc_hash.to_vec())
            .push_bind($standing.as_str())
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

/// Inserts one self-registered resident: as the holder of their document, or as a claim when
/// another record holds it. Both ways take the same two statements, so the time an answer
/// takes does not tell whether the document was known.
pub async fn insert_one(tx: &mut Tx, r: &ResidentRow) -> Result<Registered> {
    on_tx!(tx, |c| {
        let held: Option<i64> = sqlx::query_scalar("SELECT id FROM residents WHERE id_hash = $1")
            .bind(&r.doc_hash[..])
            .fetch_optional(&mut *c)
            .await?;
        let standing = if held.is_some() {
            Standing::Claim
        } else {
            Standing::Primary
        };
        let mut q = QueryBuilder::new(COLUMNS);
        q.push_values(std::iter::once(r), |mut b, r| {
            push_row_body!(b, r, standing);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING id");
        let id: Option<i64> = q.build_query_scalar().fetch_optional(&mut *c).await?;
        Ok(match (id, standing) {
            (Some(id), Standing::Primary) => Registered::Holder(id),
            (Some(id), _) => Registered::Claim(id),
            // The slot was taken, or (on PostgreSQL) another registration of the same
            // document committed in between: the caller draws again and then sees it held.
            (None, _) => Registered::SlotTaken,
        })
    })
}

/// Rows per INSERT statement on SQLite: 19 parameters each stays under its 32,766.
const STATEMENT_ROWS: usize = 1000;

/// Inserts many rows: on SQLite in multi-row INSERTs, on PostgreSQL through COPY. Returns,
/// per row, whether it was inserted, is a duplicate document, or drew a taken slot (the
/// caller re-draws and retries those).
pub async fn insert_many(tx: &mut Tx, rows: &[ResidentRow]) -> Result<Vec<Inserted>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    match tx {
        Tx::Postgres(t, _) => copy_many(t, rows).await,
        Tx::Sqlite(t) => {
            let mut out = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(STATEMENT_ROWS) {
                out.extend(insert_values(t, chunk).await?);
            }
            Ok(out)
        }
    }
}

async fn insert_values(
    c: &mut sqlx::SqliteConnection,
    rows: &[ResidentRow],
) -> Result<Vec<Inserted>> {
    let mut q = QueryBuilder::new(COLUMNS);
    q.push_values(rows, |mut b, r| {
        push_row_body!(b, r, Standing::Primary);
    });
    q.push(" ON CONFLICT DO NOTHING RETURNING id, id_hash");
    let done: Vec<(i64, Vec<u8>)> = q
        .build()
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let missing: Vec<Vec<u8>> = missing_of(rows, &done);
    let mut existing: HashSet<Vec<u8>> = HashSet::new();
    if !missing.is_empty() {
        let mut q = QueryBuilder::new("SELECT id_hash FROM residents WHERE id_hash IN (");
        let mut sep = q.separated(", ");
        for h in missing {
            sep.push_bind(h);
        }
        q.push(")");
        let found: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(&mut *c).await?;
        existing.extend(found);
    }
    Ok(outcomes(rows, done, &existing))
}

/// The documents of the rows that were not inserted.
fn missing_of(rows: &[ResidentRow], done: &[(i64, Vec<u8>)]) -> Vec<Vec<u8>> {
    let inserted: HashSet<&[u8]> = done.iter().map(|(_, h)| h.as_slice()).collect();
    rows.iter()
        .filter(|r| !inserted.contains(&r.doc_hash[..]))
        .map(|r| r.doc_hash.to_vec())
        .collect()
}

/// What became of each row, from the ids the INSERT returned and the documents already held.
fn outcomes(
    rows: &[ResidentRow],
    done: Vec<(i64, Vec<u8>)>,
    existing: &HashSet<Vec<u8>>,
) -> Vec<Inserted> {
    let mut inserted: std::collections::HashMap<Vec<u8>, i64> =
        done.into_iter().map(|(id, h)| (h, id)).collect();
    // The same document twice in one statement: the first line wins, the second is a
    // duplicate (DO NOTHING skipped it).
    let mut seen: HashSet<&[u8]> = HashSet::new();
    rows.iter()
        .map(|r| {
            if let Some(id) = inserted.remove(&r.doc_hash[..]) {
                seen.insert(&r.doc_hash[..]);
                Inserted::Yes(id)
            } else if seen.contains(&r.doc_hash[..]) || existing.contains(&r.doc_hash[..]) {
                Inserted::DuplicateDocument
            } else {
                Inserted::SlotTaken
            }
        })
        .collect()
}

/// The staging table a COPY fills, dropped with the transaction.
const STAGE: &str = "CREATE TEMP TABLE IF NOT EXISTS resident_stage (ord INTEGER, \
    public_id UUID, status_index INTEGER, head_id BIGINT, name TEXT, id_type TEXT, id_hash BYTEA, \
    doc_hash BYTEA, standing TEXT, id_last4 TEXT, phone TEXT, address TEXT, lat DOUBLE PRECISION, \
    lon DOUBLE PRECISION, birth_year INTEGER, needs JSONB, flags JSONB, source TEXT, \
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ) ON COMMIT DROP";

/// PostgreSQL: the rows go through COPY into a staging table, then one INSERT … SELECT in
/// line order moves them over, skipping what conflicts, as the multi-row INSERT does (a COPY
/// straight into `residents` would fail whole on the first document already registered).
async fn copy_many(c: &mut sqlx::PgConnection, rows: &[ResidentRow]) -> Result<Vec<Inserted>> {
    sqlx::query(STAGE).execute(&mut *c).await?;
    sqlx::query("TRUNCATE resident_stage")
        .execute(&mut *c)
        .await?;
    let mut copy = c
        .copy_in_raw(
            "COPY resident_stage (ord, public_id, status_index, head_id, name, id_type, id_hash, \
             doc_hash, standing, id_last4, phone, address, lat, lon, birth_year, needs, flags, \
             source, created_at, updated_at) FROM STDIN",
        )
        .await?;
    let mut buf = String::with_capacity(64 * 1024);
    for (i, r) in rows.iter().enumerate() {
        copy_line(&mut buf, i, r);
        if buf.len() >= 60 * 1024 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
            buf.reserve(64 * 1024);
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await?;
    }
    copy.finish().await?;
    let done: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "INSERT INTO residents (public_id, status_index, head_id, name, id_type, id_hash, \
         doc_hash, standing, id_last4, phone, address, lat, lon, birth_year, needs, flags, source, \
         created_at, updated_at) SELECT public_id, status_index, head_id, name, id_type, id_hash, \
         doc_hash, standing, id_last4, phone, address, lat, lon, birth_year, needs, flags, source, \
         created_at, updated_at FROM resident_stage ORDER BY ord \
         ON CONFLICT DO NOTHING RETURNING id, id_hash",
    )
    .fetch_all(&mut *c)
    .await?;
    let missing = missing_of(rows, &done);
    let existing: HashSet<Vec<u8>> = if missing.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT id_hash FROM residents WHERE id_hash = ANY($1)")
            .bind(missing)
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .collect()
    };
    Ok(outcomes(rows, done, &existing))
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_line(buf: &mut String, ord: usize, r: &ResidentRow) {
    use std::fmt::Write;
    fn text(buf: &mut String, s: &str) {
        for ch in s.chars() {
            match ch {
                '\\' => buf.push_str("\\\\"),
                '\t' => buf.push_str("\\t"),
                '\n' => buf.push_str("\\n"),
                '\r' => buf.push_str("\\r"),
                c => buf.push(c),
            }
        }
    }
    fn opt<T: std::fmt::Display>(buf: &mut String, v: Option<T>) {
        match v {
            Some(v) => {
                let _ = write!(buf, "{v}");
            }
            None => buf.push_str("\\N"),
        }
    }
    fn bytes(buf: &mut String, b: &[u8]) {
        buf.push_str("\\\\x");
        buf.push_str(&hex::encode(b));
    }
    let _ = write!(buf, "{ord}\t{}\t{}\t", r.public_id, r.status_index);
    opt(buf, r.head_id);
    buf.push('\t');
    text(buf, &r.name);
    buf.push('\t');
    text(buf, r.id_type);
    buf.push('\t');
    bytes(buf, &r.doc_hash);
    buf.push('\t');
    bytes(buf, &r.doc_hash);
    buf.push('\t');
    buf.push_str(Standing::Primary.as_str());
    buf.push('\t');
    text(buf, &r.id_last4);
    buf.push('\t');
    match &r.phone {
        Some(p) => text(buf, p),
        None => buf.push_str("\\N"),
    }
    buf.push('\t');
    match &r.address {
        Some(a) => text(buf, a),
        None => buf.push_str("\\N"),
    }
    buf.push('\t');
    // f64's Display is the shortest text that reads back as the same number.
    opt(buf, r.lat);
    buf.push('\t');
    opt(buf, r.lon);
    buf.push('\t');
    opt(buf, r.birth_year);
    buf.push('\t');
    text(
        buf,
        &serde_json::to_string(&r.needs).unwrap_or_else(|_| "[]".into()),
    );
    buf.push_str("\t[]\t");
    text(buf, r.source);
    let _ = writeln!(buf, "\t{}\t{}", r.now.to_rfc3339(), r.now.to_rfc3339());
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
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.public_id = $1 AND {LIVE}"));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(id).fetch_optional(c).await?
    }))
}

pub async fn by_public_id_tx(tx: &mut Tx, id: Uuid) -> Result<Option<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.public_id = $1 AND {LIVE}"));
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(sql).bind(id).fetch_optional(c).await?
    }))
}

pub async fn by_id_tx(tx: &mut Tx, id: i64) -> Result<Option<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1 AND {LIVE}"));
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(sql).bind(id).fetch_optional(c).await?
    }))
}

/// The residents registered with this one as head of household.
pub async fn dependents(db: &Db, head_id: i64) -> Result<Vec<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.head_id = $1 AND {LIVE} ORDER BY r.id"
    ));
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

/// A resident's own correction of their name.
pub async fn set_name(tx: &mut Tx, id: i64, name: &str, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE residents SET name = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())?);
    Ok(())
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
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE {LIVE} ORDER BY r.id LIMIT $1"));
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

/// A record that names an identity document, as officials settling who is who see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Holder {
    pub id: i64,
    pub public_id: Uuid,
    pub doc_hash: Vec<u8>,
    pub standing: String,
    pub source: String,
    pub id_type: String,
    pub id_last4: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub has_phone: bool,
    pub created_at: DateTime<Utc>,
}

const HOLDER: &str = "SELECT r.id, r.public_id, r.doc_hash, r.standing, r.source, r.id_type, \
    r.id_last4, r.lat, r.lon, (r.phone IS NOT NULL) AS has_phone, r.created_at FROM residents r";

/// The live records that name a document, oldest first.
pub async fn holders_of(tx: &mut Tx, doc_hash: &[u8]) -> Result<Vec<Holder>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{HOLDER} WHERE r.doc_hash = $1 AND {LIVE} ORDER BY r.id"
    ));
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(sql).bind(doc_hash).fetch_all(c).await?
    }))
}

/// The live records of documents that more than one live record names, oldest documents
/// first, at most `limit` documents.
pub async fn disputed(db: &Db, limit: i64) -> Result<Vec<Holder>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{HOLDER} JOIN (SELECT doc_hash, MIN(id) AS first FROM residents WHERE standing <> 'retired' \
         GROUP BY doc_hash HAVING COUNT(*) > 1 ORDER BY MIN(id) LIMIT $1) d ON d.doc_hash = r.doc_hash \
         WHERE {LIVE} ORDER BY d.first, r.id"
    ));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(limit).fetch_all(c).await?
    }))
}

/// The other live records that name the same document as record `id`, oldest first.
pub async fn others_naming_document_of(tx: &mut Tx, id: i64) -> Result<Vec<Holder>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{HOLDER} WHERE r.doc_hash = (SELECT doc_hash FROM residents WHERE id = $1) \
         AND r.id <> $1 AND {LIVE} ORDER BY r.id"
    ));
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(sql).bind(id).fetch_all(c).await?
    }))
}

/// Whether the resident has an open shelter stay.
pub async fn has_open_stay(tx: &mut Tx, id: i64) -> Result<bool> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM stays WHERE resident_id = $1 AND checked_out_at IS NULL"
    )
    .bind(id)
    .fetch_one(c)
    .await?);
    Ok(n > 0)
}

/// Takes a record out: it keeps only what says which document it named and when; its
/// personal data, location, zone memberships and household go, and its unique column takes
/// a per-record value so the document can be held by the record that stays. Returns the
/// dependents it had (now without a head).
pub async fn retire(tx: &mut Tx, id: i64, record_hash: &[u8], now: DateTime<Utc>) -> Result<u64> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE residents SET standing = 'retired', id_hash = $2, name = '', phone = NULL, \
             address = NULL, lat = NULL, lon = NULL, birth_year = NULL, needs = '[]', flags = '[]', \
             head_id = NULL, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(record_hash)
        .bind(now)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM zone_members WHERE resident_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
        let detached =
            sqlx::query("UPDATE residents SET head_id = NULL, updated_at = $2 WHERE head_id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected();
        Ok(detached)
    })
}

/// Makes a record the holder of its document (after the others were retired).
pub async fn promote(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE residents SET standing = 'primary', id_hash = doc_hash, updated_at = $2 \
             WHERE id = $1 AND standing = 'claim'",
        )
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// The live residents of a zone, in id order (a printing batch).
pub async fn in_zone(db: &Db, zone_id: i64) -> Result<Vec<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.id IN (SELECT resident_id FROM zone_members WHERE zone_id = $1) \
         AND {LIVE} ORDER BY r.id"
    ));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(zone_id).fetch_all(c).await?
    }))
}

/// The live residents of every zone an incident's orders cover, in id order.
pub async fn in_incident(db: &Db, incident_id: i64) -> Result<Vec<ResidentRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.id IN (SELECT zm.resident_id FROM zone_members zm \
           JOIN orders o ON o.zone_id = zm.zone_id WHERE o.incident_id = $1) \
         AND {LIVE} ORDER BY r.id"
    ));
    Ok(on_db!(db, |c| {
        sqlx::query_as(sql).bind(incident_id).fetch_all(c).await?
    }))
}
