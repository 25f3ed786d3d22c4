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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotGroup {
    #[sqlx(flatten)]
    pub facts: super::facts::FactRow,
    pub slots: String,
}

/// Every live resident's status index grouped by facts. `with_birth_year` only when a rule
/// reads `age`: far fewer groups otherwise.
pub async fn slot_groups(
    db: &Db,
    with_birth_year: bool,
    now: DateTime<Utc>,
) -> Result<Vec<SlotGroup>> {
    // The one difference between the two databases here: the name of string aggregation.
    let slots = match db {
        Db::Sqlite { .. } => "group_concat(r.status_index, ',')",
        Db::Postgres(_) => "string_agg(CAST(r.status_index AS TEXT), ',')",
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, {slots} AS slots FROM residents r {joins} \
         WHERE r.standing <> 'retired' GROUP BY {group_by}",
        columns = super::facts::fact_columns(with_birth_year),
        joins = super::facts::fact_joins(),
        group_by = super::facts::fact_group_by(with_birth_year),
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
