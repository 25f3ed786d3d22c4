//! Individual colour overrides and the second-official approvals they wait for.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

pub struct NewRequest<'a> {
    pub public_id: Uuid,
    /// `override`, `rules`, `facts`, `clear_override` or `appeal`
    pub kind: &'static str,
    pub colour: Option<i32>,
    pub rule_version: Option<i64>,
    pub reason_code: &'a str,
    pub reason_text: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub requested_by: &'a str,
    pub requester_id: i64,
    /// The one resident a `facts`, `clear_override` or `appeal` request concerns.
    pub resident_id: Option<i64>,
    /// The pending change, as JSON, for the kinds that carry one.
    pub payload: Option<String>,
}

/// Records a request awaiting a second official; `residents` is how many it moves.
pub async fn insert_approval(
    tx: &mut Tx,
    r: &NewRequest<'_>,
    residents: i64,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO approvals (public_id, kind, colour, rule_version, reason_code, reason_text, expires_at, \
             requested_by, requester_id, requested_at, status, residents, resident_id, payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13) RETURNING id",
        )
        .bind(r.public_id)
        .bind(r.kind)
        .bind(r.colour)
        .bind(r.rule_version)
        .bind(r.reason_code)
        .bind(r.reason_text)
        .bind(r.expires_at)
        .bind(r.requested_by)
        .bind(r.requester_id)
        .bind(now)
        .bind(residents as i32)
        .bind(r.resident_id)
        .bind(r.payload.as_deref())
        .fetch_one(c)
        .await?
    }))
}

/// Records an override request and its overrides (one per resident), pending approval.
/// Returns the override public ids in the order of `residents`.
pub async fn request(
    tx: &mut Tx,
    r: &NewRequest<'_>,
    residents: &[i64],
    now: DateTime<Utc>,
) -> Result<(i64, Vec<Uuid>)> {
    let approval_id = insert_approval(tx, r, residents.len() as i64, now).await?;
    let ids: Vec<Uuid> = residents.iter().map(|_| Uuid::new_v4()).collect();
    for (chunk_ids, chunk) in ids.chunks(5000).zip(residents.chunks(5000)) {
        on_tx!(tx, |c| {
            let mut q =
                QueryBuilder::new("INSERT INTO overrides (public_id, approval_id, resident_id) ");
            q.push_values(chunk_ids.iter().zip(chunk), |mut b, (id, resident)| {
                b.push_bind(*id).push_bind(approval_id).push_bind(*resident);
            });
            q.build().execute(c).await?;
        });
    }
    Ok((approval_id, ids))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovalRow {
    pub id: i64,
    pub public_id: Uuid,
    pub kind: String,
    pub colour: Option<i32>,
    pub rule_version: Option<i64>,
    pub reason_code: String,
    pub reason_text: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub requested_by: String,
    pub requester_id: i64,
    pub requested_at: DateTime<Utc>,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub residents: i32,
    pub resident_id: Option<i64>,
    pub resident_public_id: Option<Uuid>,
    pub payload: Option<String>,
}

const APPROVAL_COLUMNS: &str = "SELECT a.id, a.public_id, a.kind, a.colour, a.rule_version, a.reason_code, a.reason_text, a.expires_at, \
    a.requested_by, a.requester_id, a.requested_at, a.status, a.decided_by, a.decided_at, a.decision_reason, a.residents, \
    a.resident_id, r.public_id AS resident_public_id, a.payload FROM approvals a LEFT JOIN residents r ON r.id = a.resident_id";

pub async fn approval(db: &Db, public_id: Uuid) -> Result<Option<ApprovalRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{APPROVAL_COLUMNS} WHERE a.public_id = $1"));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

pub async fn approvals(db: &Db, status: Option<&str>) -> Result<Vec<ApprovalRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{APPROVAL_COLUMNS} WHERE ($1 IS NULL OR a.status = $1) ORDER BY a.id DESC LIMIT 500"
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(status)
        .fetch_all(c)
        .await?))
}

/// Decides a pending request in one statement: only if still pending and only by someone
/// other than the requester. `false` when either condition fails.
pub async fn decide(
    tx: &mut Tx,
    id: i64,
    approve: bool,
    decider: &str,
    decider_id: i64,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, decision_reason = $5 \
             WHERE id = $1 AND status = 'pending' AND requester_id <> $6",
        )
        .bind(id)
        .bind(if approve { "approved" } else { "rejected" })
        .bind(decider)
        .bind(now)
        .bind(reason)
        .bind(decider_id)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Where the people of each listed request are: (approval id, lat, lon) for every resident
/// an override or a single-resident request concerns, for the jurisdiction filter.
pub async fn locations_of(
    db: &Db,
    approval_ids: &[i64],
) -> Result<Vec<(i64, Option<f64>, Option<f64>)>> {
    if approval_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in approval_ids.chunks(500) {
        let rows: Vec<(i64, Option<f64>, Option<f64>)> = on_db!(db, |c| {
            let mut q = QueryBuilder::new(
                "SELECT o.approval_id, r.lat, r.lon FROM overrides o JOIN residents r ON r.id = o.resident_id WHERE o.approval_id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            q.push(") UNION ALL SELECT a.id, r.lat, r.lon FROM approvals a JOIN residents r ON r.id = a.resident_id WHERE a.id IN (");
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

/// Residents (internal id, location) covered by a request, for the jurisdiction check.
pub async fn residents_of(
    db: &Db,
    approval_id: i64,
) -> Result<Vec<(i64, Option<f64>, Option<f64>, Uuid)>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
            "SELECT r.id, r.lat, r.lon, r.public_id FROM overrides o JOIN residents r ON r.id = o.resident_id WHERE o.approval_id = $1 \
             UNION ALL SELECT r.id, r.lat, r.lon, r.public_id FROM approvals a JOIN residents r ON r.id = a.resident_id WHERE a.id = $1",
        )
        .bind(approval_id)
        .fetch_all(c)
        .await?
    }))
}

/// Clears one override of a resident; `false` if there is no such uncleared override.
pub async fn clear(
    tx: &mut Tx,
    resident_id: i64,
    override_id: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query("UPDATE overrides SET cleared_at = $3, cleared_by = $4 WHERE resident_id = $1 AND public_id = $2 AND cleared_at IS NULL")
            .bind(resident_id)
            .bind(override_id)
            .bind(now)
            .bind(by)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Whether the override was put in force by two officials (an approved request), so that
/// clearing it needs two as well.
pub async fn approved_override(
    db: &Db,
    resident_id: i64,
    override_id: Uuid,
) -> Result<Option<bool>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar::<_, String>(
            "SELECT a.status FROM overrides o JOIN approvals a ON a.id = o.approval_id \
             WHERE o.resident_id = $1 AND o.public_id = $2 AND o.cleared_at IS NULL",
        )
        .bind(resident_id)
        .bind(override_id)
        .fetch_optional(c)
        .await?
    })
    .map(|status| status == "approved"))
}

/// The resident's uncleared overrides that two officials approved.
pub async fn approved_overrides(db: &Db, resident_id: i64) -> Result<Vec<Uuid>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar(
            "SELECT o.public_id FROM overrides o JOIN approvals a ON a.id = o.approval_id \
             WHERE o.resident_id = $1 AND o.cleared_at IS NULL AND a.status = 'approved'",
        )
        .bind(resident_id)
        .fetch_all(c)
        .await?
    }))
}

/// Clears the resident's overrides that no second official approved (yet): what one
/// official may withdraw alone.
pub async fn clear_unapproved(
    tx: &mut Tx,
    resident_id: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE overrides SET cleared_at = $2, cleared_by = $3 WHERE resident_id = $1 AND cleared_at IS NULL \
             AND approval_id IN (SELECT id FROM approvals WHERE status <> 'approved')",
        )
        .bind(resident_id)
        .bind(now)
        .bind(by)
        .execute(c)
        .await?
        .rows_affected()
    }))
}

/// Clears every override of a resident (an upheld appeal).
pub async fn clear_all(tx: &mut Tx, resident_id: i64, by: &str, now: DateTime<Utc>) -> Result<u64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query("UPDATE overrides SET cleared_at = $2, cleared_by = $3 WHERE resident_id = $1 AND cleared_at IS NULL")
            .bind(resident_id)
            .bind(now)
            .bind(by)
            .execute(c)
            .await?
            .rows_affected()
    }))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OverrideRow {
    pub public_id: Uuid,
    pub approval_public_id: Uuid,
    pub colour: Option<i32>,
    pub reason_code: String,
    pub reason_text: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: String,
    pub cleared_at: Option<DateTime<Utc>>,
}

pub async fn of_resident(db: &Db, resident_id: i64) -> Result<Vec<OverrideRow>> {
    Ok(on_db!(db, |c| {
        sqlx::query_as(
            "SELECT o.public_id, a.public_id AS approval_public_id, a.colour, a.reason_code, a.reason_text, a.expires_at, \
             a.status, o.cleared_at FROM overrides o JOIN approvals a ON a.id = o.approval_id WHERE o.resident_id = $1 ORDER BY o.id DESC",
        )
        .bind(resident_id)
        .fetch_all(c)
        .await?
    }))
}
