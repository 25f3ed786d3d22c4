//! Anonymising an incident's personal data after its retention period. Every statement is
//! idempotent and works in batches, each its own transaction: several servers may run it at
//! once, and a run killed half-way is finished by the next.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub all_clear_at: Option<DateTime<Utc>>,
    pub anonymised_at: Option<DateTime<Utc>>,
}

pub async fn incidents(db: &Db) -> Result<Vec<IncidentRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT id, public_id, name, created_at, all_clear_at, anonymised_at FROM incidents \
         ORDER BY created_at"
    )
    .fetch_all(c)
    .await?))
}

/// Incidents whose all-clear is at or before `cutoff` and that are not anonymised yet.
pub async fn due(db: &Db, cutoff: DateTime<Utc>) -> Result<Vec<IncidentRow>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT id, public_id, name, created_at, all_clear_at, anonymised_at FROM incidents \
         WHERE anonymised_at IS NULL AND all_clear_at IS NOT NULL AND all_clear_at <= $1 \
         ORDER BY all_clear_at"
    )
    .bind(cutoff)
    .fetch_all(c)
    .await?))
}

/// Whether any incident is open or still within its retention (then the season's residents
/// and deleted residents' keys are still needed).
pub async fn any_live(db: &Db, cutoff: DateTime<Utc>) -> Result<bool> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM incidents WHERE all_clear_at IS NULL OR all_clear_at > $1)"
    )
    .bind(cutoff)
    .fetch_one(c)
    .await?))
}

/// SQL true when time `t` lies in no other incident that is open or still within retention:
/// what was written then belongs to this incident alone. `$1` incident id, `$2` cutoff.
fn alone(t: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM incidents o WHERE o.id <> $1 AND o.created_at <= {t} \
         AND (o.all_clear_at IS NULL OR (o.all_clear_at >= {t} AND o.all_clear_at > $2)))"
    )
}

/// The window of incident `$1`: `$3` start, `$4` all-clear.
fn within(t: &str) -> String {
    format!("{t} >= $3 AND {t} <= $4 AND {}", alone(t))
}

/// The alerts of the incident: its own, and those sent in its window without an incident.
/// Not yet anonymised (`anonymised` false), or anonymised and still holding per-person rows.
pub async fn alerts_of(
    db: &Db,
    i: &IncidentRow,
    cutoff: DateTime<Utc>,
    anonymised: bool,
) -> Result<Vec<i64>> {
    let state = if anonymised {
        "a.anonymised_at IS NOT NULL \
         AND (EXISTS (SELECT 1 FROM alert_recipients r WHERE r.alert_id = a.id) \
              OR EXISTS (SELECT 1 FROM outbox x WHERE x.alert_id = a.id) \
              OR EXISTS (SELECT 1 FROM ack_links l WHERE l.alert_id = a.id) \
              OR EXISTS (SELECT 1 FROM contact_messages m WHERE m.alert_id = a.id))"
    } else {
        "a.anonymised_at IS NULL"
    };
    let sql = format!(
        "SELECT a.id FROM alerts a WHERE {state} AND {} ORDER BY a.id",
        alert_scope()
    );
    Ok(on_db!(db, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(i.id)
        .bind(cutoff)
        .bind(i.created_at)
        .bind(i.all_clear_at.unwrap_or_else(far_future))
        .bind(i.public_id)
        .fetch_all(c)
        .await?))
}

/// SQL true for alert `a` of incident `$1` (`$5` its public id).
fn alert_scope() -> String {
    format!(
        "(a.incident_id = $5 OR (a.incident_id IS NULL AND {}))",
        within("a.sent_at")
    )
}

/// Marks an alert anonymised and keeps its counts (per zone, acknowledged, the median time
/// to acknowledge); false if another run did it first.
pub async fn keep_alert_counts(tx: &mut Tx, alert: i64, now: DateTime<Utc>) -> Result<bool> {
    on_tx!(tx, |c| {
        let mine = sqlx::query(
            "UPDATE alerts SET anonymised_at = $2 WHERE id = $1 AND anonymised_at IS NULL",
        )
        .bind(alert)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
            == 1;
        if !mine {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO alert_zone_counts (alert_id, zone_public_id, zone_name, recipients, acknowledged, reached) \
             SELECT $1, z.public_id, z.name, COUNT(*), COUNT(r.acknowledged_at), COUNT(r.reached_at) \
             FROM alert_recipients r LEFT JOIN zones z ON z.id = r.zone_id WHERE r.alert_id = $1 \
             GROUP BY z.public_id, z.name",
        )
        .bind(alert)
        .execute(&mut *c)
        .await?;
        let times: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT acknowledged_at FROM alert_recipients WHERE alert_id = $1 \
             AND acknowledged_at IS NOT NULL ORDER BY acknowledged_at",
        )
        .bind(alert)
        .fetch_all(&mut *c)
        .await?;
        let sent: DateTime<Utc> = sqlx::query_scalar("SELECT sent_at FROM alerts WHERE id = $1")
            .bind(alert)
            .fetch_one(&mut *c)
            .await?;
        let median = (!times.is_empty()).then(|| (times[times.len() / 2] - sent).num_seconds());
        sqlx::query(
            "UPDATE alerts SET acknowledged_count = $2, median_ack_secs = $3 WHERE id = $1",
        )
        .bind(alert)
        .bind(times.len() as i32)
        .bind(median)
        .execute(&mut *c)
        .await?;
        Ok(true)
    })
}

/// Deletes one batch of an anonymised alert's per-person rows (messages, gateway records,
/// one-tap links, contacts' messages, recipients); the rows removed.
pub async fn drop_alert_rows(tx: &mut Tx, alert: i64, batch: i64) -> Result<u64> {
    let statements = [
        "DELETE FROM provider_messages WHERE outbox_id IN \
         (SELECT id FROM outbox WHERE alert_id = $1 LIMIT $2)",
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE alert_id = $1 LIMIT $2)",
        "DELETE FROM ack_links WHERE token_hash IN \
         (SELECT token_hash FROM ack_links WHERE alert_id = $1 LIMIT $2)",
        "DELETE FROM contact_messages WHERE id IN \
         (SELECT id FROM contact_messages WHERE alert_id = $1 LIMIT $2)",
        "DELETE FROM alert_recipients WHERE (alert_id, resident_id) IN \
         (SELECT alert_id, resident_id FROM alert_recipients WHERE alert_id = $1 LIMIT $2)",
    ];
    let mut n = 0;
    on_tx!(tx, |c| {
        for sql in statements {
            n += sqlx::query(sql)
                .bind(alert)
                .bind(batch)
                .execute(&mut *c)
                .await?
                .rows_affected();
        }
    });
    Ok(n)
}

/// What one pass over an incident's own rows does, by table: each statement takes the next
/// `$5` rows after key `$7` in key order (a keyset walk: rows already done or not the
/// incident's are read once, not once per batch) and returns the keys it changed.
pub const STEPS: &[(&str, &str, &str)] = &[
    (
        "reports",
        "UPDATE reports SET text = '', note = NULL, photo = NULL, photo_type = NULL, resident_id = NULL \
         WHERE id IN (SELECT id FROM reports WHERE id > $7 AND resident_id IS NOT NULL AND {w} \
         ORDER BY id LIMIT $5) RETURNING id",
        "created_at",
    ),
    (
        "stays",
        "UPDATE stays SET resident_id = NULL WHERE id IN (SELECT id FROM stays WHERE id > $7 \
         AND resident_id IS NOT NULL AND checked_out_at IS NOT NULL AND {w} ORDER BY id LIMIT $5) \
         RETURNING id",
        "checked_in_at",
    ),
    (
        "distributions",
        "UPDATE distributions SET resident_id = NULL WHERE id IN (SELECT id FROM distributions \
         WHERE id > $7 AND resident_id IS NOT NULL AND {w} ORDER BY id LIMIT $5) RETURNING id",
        "given_at",
    ),
    (
        "safety_checks",
        "DELETE FROM safety_checks WHERE resident_id IN (SELECT resident_id FROM safety_checks \
         WHERE resident_id > $7 AND {w} ORDER BY resident_id LIMIT $5) RETURNING resident_id",
        "reported_at",
    ),
    (
        "appeals",
        "UPDATE appeals SET text = '', decision_reason = NULL WHERE id IN (SELECT id FROM appeals \
         WHERE id > $7 AND status <> 'open' AND (text <> '' OR decision_reason IS NOT NULL) AND {w} \
         ORDER BY id LIMIT $5) RETURNING id",
        "created_at",
    ),
    (
        "approvals",
        "UPDATE approvals SET reason_text = '', decision_reason = NULL, payload = NULL \
         WHERE id IN (SELECT id FROM approvals WHERE id > $7 AND kind <> 'rules' AND status <> 'pending' \
         AND (reason_text <> '' OR decision_reason IS NOT NULL OR payload IS NOT NULL) \
         AND (expires_at IS NULL OR expires_at < $6) AND {w} ORDER BY id LIMIT $5) RETURNING id",
        "requested_at",
    ),
    (
        "sync_conflicts",
        "DELETE FROM sync_conflicts WHERE id IN (SELECT id FROM sync_conflicts WHERE id > $7 \
         AND {w} ORDER BY id LIMIT $5) RETURNING id",
        "received_at",
    ),
];

/// One batch of step `i` of [`STEPS`] for the incident after key `after`: (rows changed,
/// the last key changed).
pub async fn step(
    tx: &mut Tx,
    i: usize,
    inc: &IncidentRow,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    batch: i64,
    after: i64,
) -> Result<(u64, i64)> {
    let (_, sql, column) = STEPS[i];
    // Binds are checked against `$7` in use by every statement (a statement naming fewer
    // parameters than are bound is refused by PostgreSQL).
    let sql = sql.replace("{w}", &within(column)) + " ";
    let keys: Vec<i64> = on_tx!(tx, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(inc.id)
        .bind(cutoff)
        .bind(inc.created_at)
        .bind(inc.all_clear_at)
        .bind(batch)
        .bind(now)
        .bind(after)
        .fetch_all(c)
        .await?);
    Ok((keys.len() as u64, keys.into_iter().max().unwrap_or(after)))
}

/// Relief quotas' bookkeeping of the incident's days (counts live in `distributions`).
pub async fn drop_usage(
    tx: &mut Tx,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<u64> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "DELETE FROM relief_usage WHERE day >= $1 AND day <= $2"
    )
    .bind(from)
    .bind(to)
    .execute(c)
    .await?
    .rows_affected()))
}

pub async fn mark_done(tx: &mut Tx, incident: i64, now: DateTime<Utc>) -> Result<bool> {
    Ok(on_tx!(tx, |c| sqlx::query(
        "UPDATE incidents SET anonymised_at = $2 WHERE id = $1 AND anonymised_at IS NULL"
    )
    .bind(incident)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
        == 1))
}

/// Public ids of residents whose deletion was carried out.
pub async fn deleted_residents(db: &Db) -> Result<Vec<Uuid>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT r.public_id FROM deletion_requests d JOIN residents r ON r.id = d.resident_id \
         WHERE d.done_at IS NOT NULL"
    )
    .fetch_all(c)
    .await?))
}

/// What is still held of an incident's personal data, by table (for the report).
pub async fn held(db: &Db, inc: &IncidentRow, cutoff: DateTime<Utc>) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    let alert_scope = alert_scope();
    let counts = [
        (
            "alert_recipients",
            format!(
                "SELECT COUNT(*) FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id WHERE {alert_scope}"
            ),
        ),
        (
            "outbox",
            format!(
                "SELECT COUNT(*) FROM outbox x JOIN alerts a ON a.id = x.alert_id WHERE {alert_scope}"
            ),
        ),
        (
            "ack_links",
            format!(
                "SELECT COUNT(*) FROM ack_links x JOIN alerts a ON a.id = x.alert_id WHERE {alert_scope}"
            ),
        ),
        (
            "reports",
            format!(
                "SELECT COUNT(*) FROM reports WHERE resident_id IS NOT NULL AND {}",
                within("created_at")
            ),
        ),
        (
            "stays",
            format!(
                "SELECT COUNT(*) FROM stays WHERE resident_id IS NOT NULL AND {}",
                within("checked_in_at")
            ),
        ),
        (
            "distributions",
            format!(
                "SELECT COUNT(*) FROM distributions WHERE resident_id IS NOT NULL AND {}",
                within("given_at")
            ),
        ),
        (
            "safety_checks",
            format!(
                "SELECT COUNT(*) FROM safety_checks WHERE {}",
                within("reported_at")
            ),
        ),
        (
            "appeals",
            format!(
                "SELECT COUNT(*) FROM appeals WHERE (text <> '' OR decision_reason IS NOT NULL) AND {}",
                within("created_at")
            ),
        ),
        (
            "approvals",
            format!(
                "SELECT COUNT(*) FROM approvals WHERE kind <> 'rules' AND (reason_text <> '' OR decision_reason IS NOT NULL OR payload IS NOT NULL) AND {}",
                within("requested_at")
            ),
        ),
    ];
    for (name, sql) in counts {
        let n: i64 = on_db!(db, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(inc.id)
            .bind(cutoff)
            .bind(inc.created_at)
            .bind(inc.all_clear_at.unwrap_or_else(far_future))
            .bind(inc.public_id)
            .fetch_one(c)
            .await?);
        out.push((name.to_owned(), n));
    }
    Ok(out)
}

/// Of an incident's alerts: (anonymised, kept with their lists).
pub async fn alert_counts(db: &Db, inc: &IncidentRow, cutoff: DateTime<Utc>) -> Result<(i64, i64)> {
    let sql = format!(
        "SELECT CAST(COUNT(a.anonymised_at) AS BIGINT), CAST(COUNT(*) - COUNT(a.anonymised_at) AS BIGINT) \
         FROM alerts a WHERE {}",
        alert_scope()
    );
    Ok(on_db!(db, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(inc.id)
        .bind(cutoff)
        .bind(inc.created_at)
        .bind(inc.all_clear_at.unwrap_or_else(far_future))
        .bind(inc.public_id)
        .fetch_one(c)
        .await?))
}

/// Residents: (kept with personal data, erased).
pub async fn resident_counts(db: &Db) -> Result<(i64, i64)> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT CAST(COUNT(*) FILTER (WHERE standing <> 'retired') AS BIGINT), \
         CAST(COUNT(*) FILTER (WHERE standing = 'retired') AS BIGINT) FROM residents"
    )
    .fetch_one(c)
    .await?))
}

/// Residents not erased yet, a page at a time, for the season's end.
pub async fn season_residents(db: &Db, limit: i64) -> Result<Vec<(i64, Uuid)>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT id, public_id FROM residents WHERE standing <> 'retired' ORDER BY id LIMIT $1"
    )
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// An open incident's window ends in no year anyone will see (and sorts as text in SQLite).
fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or_default()
}
