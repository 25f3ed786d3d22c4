//! Small named values shared by every server on the database.

use super::{Result, Tx};
use crate::on_tx;

/// Sets `key` to `value` unless it is set already; true if this call set it. Used to let
/// exactly one of several starting servers do a one-time job.
pub async fn claim(tx: &mut Tx, key: &str, value: &str) -> Result<bool> {
    let done = on_tx!(tx, |c| {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

pub async fn get(tx: &mut Tx, key: &str) -> Result<Option<String>> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(c)
            .await?
    }))
}

/// The same read outside a transaction.
pub async fn read(db: &super::Db, key: &str) -> Result<Option<String>> {
    Ok(crate::on_db!(db, |c| {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(c)
            .await?
    }))
}

/// Raises a numeric value to at least `value`, atomically; never lowers it.
pub async fn raise_to(tx: &mut Tx, key: &str, value: i64) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE \
             SET value = CASE WHEN CAST(meta.value AS BIGINT) < CAST(excluded.value AS BIGINT) \
             THEN excluded.value ELSE meta.value END",
        )
        .bind(key)
        .bind(value.to_string())
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Sets `key` to `value`, whatever it was.
pub async fn set(tx: &mut Tx, key: &str, value: &str) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(c)
        .await?;
    });
    Ok(())
}
