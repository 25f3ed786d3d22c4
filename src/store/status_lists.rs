//! Signed status lists by epoch, and the facts of every resident they are built from.

use super::{Db, Result};
use crate::on_db;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

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

/// One resident's facts as the list needs them; JSON columns as text, so that identical
/// facts can be recognised without parsing them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotFacts {
    pub status_index: i32,
    pub needs: String,
    pub flags: String,
    pub birth_year: Option<i32>,
    pub level: i32,
    pub override_colour: Option<i32>,
    pub sheltered: i64,
}

/// Calls `each` with every resident's facts, streaming.
pub async fn each_resident(
    db: &Db,
    now: DateTime<Utc>,
    mut each: impl FnMut(SlotFacts),
) -> Result<()> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT r.status_index, CAST(r.needs AS TEXT) AS needs, CAST(r.flags AS TEXT) AS flags, \
         r.birth_year, CAST(COALESCE(lv.level, 0) AS INTEGER) AS level, ovr.colour AS override_colour, \
         {SHELTERED} AS sheltered FROM residents r {LEVEL_OF} {OVERRIDE_OF} {STAY_OF}",
        SHELTERED = super::colour::SHELTERED,
        LEVEL_OF = super::colour::LEVEL_OF,
        OVERRIDE_OF = super::colour::OVERRIDE_OF,
        STAY_OF = super::colour::STAY_OF,
    ));
    on_db!(db, |c| {
        let mut rows = sqlx::query_as::<_, SlotFacts>(sql).bind(now).fetch(c);
        while let Some(row) = rows.try_next().await? {
            each(row);
        }
    });
    Ok(())
}
