//! Retention after the all-clear (DESIGN.md: "personal data of the incident is anonymised
//! after the retention period"). When an incident's all-clear is `after_all_clear_days` old,
//! what belonged to it alone is anonymised: alert recipient lists keep their counts and lose
//! the people; messages, links and gateway records go; hazard reports lose text and photo;
//! stays and relief keep shelter, day and quantity and lose the person; "safe" marks, appeal
//! and approval texts and sync conflicts go; the audit keys of residents who asked to be
//! deleted are destroyed, which forgets what the chain sealed about them. After the season's
//! end (when set), with no incident open or within retention, the season's residents are
//! erased too. The command post's figures (alert counts, zone history, shelters' stays and
//! relief per day) stand on what is kept.
//!
//! Each step is an idempotent batch in its own transaction: several servers may run this at
//! once, and a run that dies half-way is finished by the next one. An incident is marked
//! anonymised only when everything of it is done.

use super::{Ctx, Result};
use crate::domain::AuditDraft;
use crate::store::{audit, audit_keys, retention as store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Incidents this run finished (another run may have done part of the work).
    pub incidents: Vec<IncidentDone>,
    /// Keys of deleted residents destroyed.
    pub keys_destroyed: u64,
    /// Residents erased at the season's end.
    pub season_residents_erased: u64,
    /// Queued deletions carried out first.
    pub deletions_carried_out: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentDone {
    pub incident: uuid::Uuid,
    pub alerts: u64,
    /// Rows changed or removed, by table.
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// The tables whose removed rows a run scrubs from the files.
const SCRUBBED: &[&str] = &[
    "alert_recipients",
    "outbox",
    "provider_messages",
    "ack_links",
    "contact_messages",
    "reports",
    "stays",
    "distributions",
    "safety_checks",
    "appeals",
    "approvals",
    "sync_conflicts",
    "relief_usage",
    "audit_keys",
    "residents",
    "idempotency",
];

fn cutoff(ctx: &Ctx, now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(ctx.retention.after_all_clear_days))
}

/// Does whatever retention work is due at `now`.
pub async fn run(ctx: &Ctx, now: DateTime<Utc>) -> Result<RunSummary> {
    let cutoff = cutoff(ctx, now);
    let mut summary = RunSummary {
        // Deletions that waited for the incident (its order, a stay) go first, so their keys
        // go with it.
        deletions_carried_out: super::deletion::carry_out_queued(ctx, now).await? as u64,
        ..RunSummary::default()
    };
    for inc in store::due(&ctx.db, cutoff).await? {
        if let Some(done) = anonymise(ctx, &inc, cutoff, now).await? {
            summary.incidents.push(done);
        }
    }
    if !store::any_live(&ctx.db, cutoff).await? {
        summary.keys_destroyed += forget_deleted(ctx, now).await?;
        summary.season_residents_erased += close_season(ctx, now).await?;
    }
    crate::store::idempotency::purge(&ctx.db, now).await?;
    if !summary.incidents.is_empty()
        || summary.keys_destroyed > 0
        || summary.season_residents_erased > 0
    {
        ctx.db.scrub(SCRUBBED).await?;
    }
    Ok(summary)
}

async fn anonymise(
    ctx: &Ctx,
    inc: &store::IncidentRow,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<IncidentDone>> {
    let mut rows = std::collections::BTreeMap::<String, u64>::new();
    let alerts = store::alerts_of(&ctx.db, inc, cutoff, false).await?;
    for &alert in &alerts {
        let mut tx = ctx.db.begin().await?;
        store::keep_alert_counts(&mut tx, alert, now).await?;
        tx.commit().await?;
        pause(ctx).await;
    }
    // Alerts marked by this run or an earlier one that died before their rows were gone.
    for alert in store::alerts_of(&ctx.db, inc, cutoff, true).await? {
        loop {
            let mut tx = ctx.db.begin().await?;
            let n = store::drop_alert_rows(&mut tx, alert, ctx.retention.batch).await?;
            tx.commit().await?;
            pause(ctx).await;
            *rows.entry("alert_rows".into()).or_default() += n;
            if n == 0 {
                break;
            }
        }
    }
    for (i, (table, _, _)) in store::STEPS.iter().enumerate() {
        let mut after = i64::MIN;
        loop {
            let mut tx = ctx.db.begin().await?;
            let (n, last) =
                store::step(&mut tx, i, inc, cutoff, now, ctx.retention.batch, after).await?;
            tx.commit().await?;
            pause(ctx).await;
            *rows.entry((*table).into()).or_default() += n;
            if n == 0 {
                break;
            }
            after = last;
        }
    }
    let end = inc.all_clear_at.unwrap_or(now);
    let mut tx = ctx.db.begin().await?;
    let usage = store::drop_usage(
        &mut tx,
        crate::domain::shelter::local_day(inc.created_at),
        crate::domain::shelter::local_day(end),
    )
    .await?;
    *rows.entry("relief_usage".into()).or_default() += usage;
    let keys = forget_deleted_in(&mut tx, ctx).await?;
    if !store::mark_done(&mut tx, inc.id, now).await? {
        // Another server finished it first.
        tx.rollback().await?;
        return Ok(None);
    }
    audit::append(
        &mut tx,
        &AuditDraft::new("system", "retention.anonymise")
            .subject(format!("incident:{}", inc.public_id))
            .after(
                json!({"alerts": alerts.len(), "rows": rows, "keys_destroyed": keys,
                          "retention_days": ctx.retention.after_all_clear_days}),
            ),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(incident = %inc.public_id, alerts = alerts.len(), "incident anonymised");
    Ok(Some(IncidentDone {
        incident: inc.public_id,
        alerts: alerts.len() as u64,
        rows,
    }))
}

async fn pause(ctx: &Ctx) {
    if ctx.retention.pause_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ctx.retention.pause_ms)).await;
    }
}

/// Destroys the audit keys of residents whose deletion was carried out.
async fn forget_deleted_in(tx: &mut crate::store::Tx, ctx: &Ctx) -> Result<u64> {
    let owners: Vec<String> = store::deleted_residents(&ctx.db)
        .await?
        .into_iter()
        .map(|id| format!("resident:{id}"))
        .collect();
    Ok(audit_keys::destroy(tx, &owners).await?)
}

async fn forget_deleted(ctx: &Ctx, now: DateTime<Utc>) -> Result<u64> {
    let mut tx = ctx.db.begin().await?;
    let n = forget_deleted_in(&mut tx, ctx).await?;
    if n > 0 {
        audit::append(
            &mut tx,
            &AuditDraft::new("system", "retention.forget").after(json!({"keys_destroyed": n})),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// After the season's end: every resident still registered is erased (as a deletion is), and
/// every key with them, including the seasons' keys of free text about no one person.
async fn close_season(ctx: &Ctx, now: DateTime<Utc>) -> Result<u64> {
    let Some(end) = ctx.retention.season_end else {
        return Ok(0);
    };
    if crate::domain::shelter::local_day(now) <= end {
        return Ok(0);
    }
    let mut erased = 0;
    loop {
        let page = store::season_residents(&ctx.db, 200).await?;
        if page.is_empty() {
            break;
        }
        for (internal, public) in page {
            let mut tx = ctx.db.begin().await?;
            crate::store::deletion::queue(&mut tx, internal, "season_end", now).await?;
            if super::deletion::erase(ctx, &mut tx, internal, public, "system", now).await? {
                erased += 1;
            }
            tx.commit().await?;
        }
    }
    let mut tx = ctx.db.begin().await?;
    let n = audit_keys::destroy_all(&mut tx).await?;
    if erased > 0 || n > 0 {
        audit::append(
            &mut tx,
            &AuditDraft::new("system", "retention.season_end")
                .after(json!({"season_end": end, "residents_erased": erased, "keys_destroyed": n})),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(erased)
}

/// Looks for due work every `check_secs`.
pub async fn run_every(ctx: Ctx) {
    // Not at start: a server starting in a surge has better things to do, and retention is
    // measured in days.
    let period = std::time::Duration::from_secs(ctx.retention.check_secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tick.tick().await;
        if let Err(e) = run(&ctx, ctx.now()).await {
            tracing::warn!(error = %e, "retention work failed; the next round continues it");
        }
    }
}

/// What `safecode retention report` prints: by incident, what was anonymised and what is
/// still held; and what is held for the season.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub retention_days: u32,
    pub season_end: Option<chrono::NaiveDate>,
    pub incidents: Vec<IncidentReport>,
    pub residents_held: i64,
    pub residents_erased: i64,
    pub resident_keys_held: i64,
    pub season_keys_held: i64,
    pub deletions_waiting: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    pub incident: uuid::Uuid,
    pub name: String,
    pub opened_at: DateTime<Utc>,
    pub all_clear_at: Option<DateTime<Utc>>,
    /// When its personal data is (or was) due to go.
    pub due_at: Option<DateTime<Utc>>,
    pub anonymised_at: Option<DateTime<Utc>>,
    pub alerts_anonymised: i64,
    pub alerts_with_lists: i64,
    /// Rows that still name a person, by table.
    pub still_held: std::collections::BTreeMap<String, i64>,
}

pub async fn report(ctx: &Ctx, now: DateTime<Utc>) -> Result<Report> {
    let cutoff = cutoff(ctx, now);
    let days = chrono::Duration::days(i64::from(ctx.retention.after_all_clear_days));
    let mut incidents = Vec::new();
    for inc in store::incidents(&ctx.db).await? {
        let (alerts_anonymised, alerts_with_lists) =
            store::alert_counts(&ctx.db, &inc, cutoff).await?;
        incidents.push(IncidentReport {
            incident: inc.public_id,
            name: inc.name.clone(),
            opened_at: inc.created_at,
            all_clear_at: inc.all_clear_at,
            due_at: inc.all_clear_at.map(|t| t + days),
            anonymised_at: inc.anonymised_at,
            alerts_anonymised,
            alerts_with_lists,
            still_held: store::held(&ctx.db, &inc, cutoff)
                .await?
                .into_iter()
                .collect(),
        });
    }
    let (residents_held, residents_erased) = store::resident_counts(&ctx.db).await?;
    let (resident_keys_held, season_keys_held) = audit_keys::counts(&ctx.db).await?;
    Ok(Report {
        retention_days: ctx.retention.after_all_clear_days,
        season_end: ctx.retention.season_end,
        incidents,
        residents_held,
        residents_erased,
        resident_keys_held,
        season_keys_held,
        deletions_waiting: crate::store::deletion::waiting_count(&ctx.db).await?,
    })
}
