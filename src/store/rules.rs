//! Rule set versions.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct StoredRuleSet {
    pub version: i64,
    pub document: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub active: bool,
}

/// Stores the built-in rule set as version 1, active, once per database. Any conflict means
/// another server did it first (the version, or the one-active index, says no).
pub async fn install_default(tx: &mut Tx, document: &str, now: DateTime<Utc>) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO rule_sets (version, document, created_by, created_at, activated_at, active) \
             VALUES (1, $1, 'system', $2, $2, TRUE) ON CONFLICT DO NOTHING",
        )
        .bind(document)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Adds a version numbered after the highest; the caller holds the audit head lock, which
/// serialises writers, so the number is not raced.
pub async fn insert(tx: &mut Tx, document: &str, by: &str, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO rule_sets (version, document, created_by, created_at, active) \
             SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3, FALSE FROM rule_sets RETURNING version",
        )
        .bind(document)
        .bind(by)
        .bind(now)
        .fetch_one(c)
        .await?
    }))
}

/// Makes `version` the one active rule set; `false` if there is no such version.
pub async fn activate(tx: &mut Tx, version: i64, now: DateTime<Utc>) -> Result<Option<i64>> {
    on_tx!(tx, |c| {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM rule_sets WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *c)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let previous: Option<i64> = sqlx::query_scalar(
            "UPDATE rule_sets SET active = FALSE WHERE active RETURNING version",
        )
        .fetch_optional(&mut *c)
        .await?;
        sqlx::query("UPDATE rule_sets SET active = TRUE, activated_at = $2 WHERE version = $1")
            .bind(version)
            .bind(now)
            .execute(&mut *c)
            .await?;
        Ok(Some(previous.unwrap_or(0)))
    })
}

fn row<R: Row>(r: &R) -> Result<StoredRuleSet, sqlx::Error>
where
    for<'x> i64: sqlx::Decode<'x, R::Database> + sqlx::Type<R::Database>,
    for<'x> String: sqlx::Decode<'x, R::Database> + sqlx::Type<R::Database>,
    for<'x> bool: sqlx::Decode<'x, R::Database> + sqlx::Type<R::Database>,
    for<'x> DateTime<Utc>: sqlx::Decode<'x, R::Database> + sqlx::Type<R::Database>,
    for<'x> Option<DateTime<Utc>>: sqlx::Decode<'x, R::Database> + sqlx::Type<R::Database>,
    for<'x> &'x str: sqlx::ColumnIndex<R>,
{
    Ok(StoredRuleSet {
        version: r.try_get("version")?,
        document: r.try_get("document")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        activated_at: r.try_get("activated_at")?,
        active: r.try_get("active")?,
    })
}

pub async fn active(db: &Db) -> Result<Option<StoredRuleSet>> {
    on_db!(db, |c| {
        let r = sqlx::query("SELECT version, document, created_by, created_at, activated_at, active FROM rule_sets WHERE active")
            .fetch_optional(c)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    })
}

pub async fn active_version(db: &Db) -> Result<Option<i64>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT version FROM rule_sets WHERE active")
            .fetch_optional(c)
            .await?
    }))
}

pub async fn active_version_tx(tx: &mut super::Tx) -> Result<Option<i64>> {
    Ok(crate::on_tx!(tx, |c| {
        sqlx::query_scalar("SELECT version FROM rule_sets WHERE active")
            .fetch_optional(c)
            .await?
    }))
}

pub async fn get(db: &Db, version: i64) -> Result<Option<StoredRuleSet>> {
    on_db!(db, |c| {
        let r = sqlx::query("SELECT version, document, created_by, created_at, activated_at, active FROM rule_sets WHERE version = $1")
            .bind(version)
            .fetch_optional(c)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    })
}

pub async fn list(db: &Db) -> Result<Vec<StoredRuleSet>> {
    on_db!(db, |c| {
        let rows = sqlx::query("SELECT version, document, created_by, created_at, activated_at, active FROM rule_sets ORDER BY version DESC")
            .fetch_all(c)
            .await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    })
}
