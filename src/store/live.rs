//! What a console's live view watches: a handful of counters that move whenever anything it
//! shows does. Cheap enough to read every few seconds (indexes or small tables only, except
//! acknowledgements, which have no other trace).

use super::{Db, Result};
use serde::Serialize;

/// The counters; any change means "fetch again".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Counters {
    /// The audit chain's length: zones, orders, approvals, overrides, reports' handling.
    pub audit: i64,
    /// The newest stay and the stays open now: admissions and departures.
    pub stays: i64,
    pub open_stays: i64,
    /// Residents who said they are safe, and alert acknowledgements.
    pub safe: i64,
    pub acknowledged: i64,
    /// The newest hazard report.
    pub reports: i64,
}

pub async fn counters(db: &Db) -> Result<Counters> {
    Ok(crate::on_db!(db, |c| {
        sqlx::query_as(
        "SELECT \
           CAST((SELECT seq FROM audit_head WHERE id = 1) AS BIGINT) AS audit, \
           CAST((SELECT COALESCE(MAX(id), 0) FROM stays) AS BIGINT) AS stays, \
           CAST((SELECT COUNT(*) FROM stays WHERE checked_out_at IS NULL) AS BIGINT) AS open_stays, \
           CAST((SELECT COUNT(*) FROM safety_checks) AS BIGINT) AS safe, \
           CAST((SELECT COUNT(*) FROM alert_recipients WHERE acknowledged_at IS NOT NULL) AS BIGINT) AS acknowledged, \
           CAST((SELECT COALESCE(MAX(id), 0) FROM reports) AS BIGINT) AS reports"
    )
    .fetch_one(c)
    .await?
    }))
}
