//! Zones' counts over time (`zone_samples`).

use super::{Db, Result, Tx};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Sample {
    pub zone_id: i64,
    pub at: DateTime<Utc>,
    pub must_move: i64,
    pub sheltered: i64,
    pub safe_with_relatives: i64,
    pub not_reached: i64,
}

/// Keeps the samples of one period; a period another server already sampled keeps its own.
pub async fn insert(tx: &mut Tx, samples: &[Sample]) -> Result<()> {
    for s in samples {
        crate::on_tx!(tx, |c| {
            sqlx::query(
            "INSERT INTO zone_samples (zone_id, at, must_move, sheltered, safe_with_relatives, not_reached) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (zone_id, at) DO NOTHING"
        )
        .bind(s.zone_id)
        .bind(s.at)
        .bind(s.must_move)
        .bind(s.sheltered)
        .bind(s.safe_with_relatives)
        .bind(s.not_reached)
        .execute(c)
        .await?
        .rows_affected()
        });
    }
    Ok(())
}

/// Every live zone's samples since `since`, oldest first.
pub async fn since(db: &Db, since: DateTime<Utc>) -> Result<Vec<Sample>> {
    Ok(crate::on_db!(db, |c| sqlx::query_as(
        "SELECT s.zone_id, s.at, s.must_move, s.sheltered, s.safe_with_relatives, s.not_reached \
         FROM zone_samples s JOIN zones z ON z.id = s.zone_id AND z.deleted_at IS NULL \
         WHERE s.at >= $1 ORDER BY s.zone_id, s.at"
    )
    .bind(since)
    .fetch_all(c)
    .await?))
}

/// Forgets samples older than `before`: the charts show hours, not the season.
pub async fn forget_before(tx: &mut Tx, before: DateTime<Utc>) -> Result<u64> {
    Ok(crate::on_tx!(tx, |c| sqlx::query(
        "DELETE FROM zone_samples WHERE at < $1"
    )
    .bind(before)
    .execute(c)
    .await?
    .rows_affected()))
}
