//! Signed status lists by epoch, and the facts of every resident they are built from.

use super::{Db, Result};
use crate::on_db;
use chrono::{DateTime, Utc};

/// The newest list without its body: enough to decide whether to rebuild or answer 304.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListHead {
    pub epoch: i64,
    pub issued_at: DateTime<Utc>,
    pub audit_seq: i64,
}

pub async fn newest(db: &Db) -> Result<Option<ListHead>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT epoch, issued_at, audit_seq FROM status_lists ORDER BY epoch DESC LIMIT 1"
    )
    .fetch_optional(c)
    .await?))
}

pub async fn body(db: &Db, epoch: i64) -> Result<Option<Vec<u8>>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT body FROM status_lists WHERE epoch = $1"
    )
    .bind(epoch)
    .fetch_optional(c)
    .await?))
}

/// Stores a list as `epoch`; `false` if another server stored that epoch first. Lists older
/// than the previous one are dropped.
pub async fn insert(
    db: &Db,
    epoch: i64,
    issued_at: DateTime<Utc>,
    audit_seq: i64,
    body: &[u8],
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = crate::on_tx!(&mut tx, |c| {
        let n = sqlx::query(
            "INSERT INTO status_lists (epoch, issued_at, audit_seq, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (epoch) DO NOTHING",
        )
        .bind(epoch)
        .bind(issued_at)
        .bind(audit_seq)
        .bind(body)
        .execute(&mut *c)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM status_lists WHERE epoch < $1")
            .bind(epoch - 1)
            .execute(&mut *c)
            .await?;
        n
    });
    tx.commit().await?;
    Ok(n == 1)
}

/// The audit chain's length: any change that can move a colour is audited, so a list built
/// at this length is current until it grows (or an order or override expires).
pub async fn audit_seq(db: &Db) -> Result<i64> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT seq FROM audit_head WHERE id = 1"
    )
    .fetch_one(c)
    .await?))
}

/// Residents with identical facts, counted once, with every status index they hold (as
/// comma-separated text: one row per distinct set of facts instead of one per resident).
/// JSON columns as text, compared as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotGroup {
    pub needs: String,
    pub flags: String,
    pub birth_year: Option<i32>,
    pub level: i32,
    pub override_colour: Option<i32>,
    pub sheltered: i64,
    pub safe: i64,
    pub slots: String,
}

/// Every resident's status index grouped by facts. `with_birth_year` only when a rule reads
/// `age`: far fewer groups otherwise.
pub async fn slot_groups(
    db: &Db,
    with_birth_year: bool,
    now: DateTime<Utc>,
) -> Result<Vec<SlotGroup>> {
    let birth = if with_birth_year {
        "r.birth_year"
    } else {
        "CAST(NULL AS INTEGER)"
    };
    // The one difference between the two databases here: the name of string aggregation.
    let slots = match db {
        Db::Sqlite { .. } => "group_concat(r.status_index, ',')",
        Db::Postgres(_) => "string_agg(CAST(r.status_index AS TEXT), ',')",
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT CAST(r.needs AS TEXT) AS needs, CAST(r.flags AS TEXT) AS flags, {birth} AS birth_year, \
         CAST(COALESCE(lv.level, 0) AS INTEGER) AS level, ovr.colour AS override_colour, \
         {SHELTERED} AS sheltered, {SAFE} AS safe, {slots} AS slots \
         FROM residents r {LEVEL_OF} {OVERRIDE_OF} {STAY_OF} {SAFE_OF} \
         WHERE r.standing <> 'retired' \
         GROUP BY CAST(r.needs AS TEXT), CAST(r.flags AS TEXT), {birth}, COALESCE(lv.level, 0), \
         ovr.colour, {SHELTERED}, {SAFE}",
        SHELTERED = super::colour::SHELTERED,
        LEVEL_OF = super::colour::LEVEL_OF,
        OVERRIDE_OF = super::colour::OVERRIDE_OF,
        STAY_OF = super::colour::STAY_OF,
        SAFE = super::colour::SAFE,
        SAFE_OF = super::colour::SAFE_OF,
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .fetch_all(c)
        .await?))
}

/// The status slots of retired records: no code of theirs is good any more.
pub async fn retired_slots(db: &Db) -> Result<Vec<i32>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT status_index FROM residents WHERE standing = 'retired'"
    )
    .fetch_all(c)
    .await?))
}
