//! A resident asks to be deleted (PIPL art. 47). It is carried out at once when nothing needs
//! the record, and otherwise queued with what it waits for (an open shelter stay, an open
//! appeal, an evacuation order in force over their home) and carried out by a background task
//! the moment that clears. Carrying it out blanks the record (name, phone, address, location,
//! birth year, needs, the document's hash and last four), signs every device out, and removes
//! the messages, links, report text and photos, appeal text and "safe" mark; rows that others'
//! counts stand on (an alert's recipients, a shelter's stays, relief handed out) stay, naming
//! no one. The audit chain says that a deletion happened, not what was deleted.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::AuditDraft;
use crate::store::{audit, deletion, residents, users};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeletionView {
    /// `deleted` or `queued`.
    pub status: &'static str,
    /// What it waits for: `stay`, `appeal`, `order`.
    pub waiting_for: Vec<&'static str>,
    /// In plain words.
    pub zh: String,
    pub en: String,
}

fn explain(waiting: &[&str]) -> (String, String) {
    if waiting.is_empty() {
        return (
            "您的记录已删除，本设备已退出。".into(),
            "Your record is deleted and this device signed out.".into(),
        );
    }
    let (zh, en): (Vec<&str>, Vec<&str>) = waiting
        .iter()
        .map(|w| match *w {
            "stay" => (
                "您仍登记在安置点（离开后删除）",
                "you are checked in at a shelter (deleted once you leave)",
            ),
            "appeal" => (
                "您的申诉尚未处理（处理后删除）",
                "your appeal is not decided yet (deleted once it is)",
            ),
            _ => (
                "您所在区域的转移令仍然有效（解除后删除）",
                "an evacuation order is in force where you live (deleted once it is lifted)",
            ),
        })
        .unzip();
    (
        format!("删除请求已记录，暂不能执行：{}。", zh.join("；")),
        format!("Your deletion is queued: {}.", en.join("; ")),
    )
}

/// Blanks the record and what else was kept about it; audited without what was deleted.
/// Whether this call did it (another server may have).
pub(crate) async fn erase(
    ctx: &Ctx,
    tx: &mut crate::store::Tx,
    internal: i64,
    public: uuid::Uuid,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !deletion::claim_done(tx, internal, now).await? {
        return Ok(false);
    }
    let tokens = users::revoke_resident_tokens(tx, internal, now).await?;
    let scrambled: [u8; 32] = rand::random();
    deletion::erase_traces(tx, internal, &scrambled).await?;
    let record: [u8; 32] = rand::random();
    residents::retire(tx, internal, &record, now).await?;
    // The code's slot is revoked in the next status list, like any retired record's.
    super::status_list::mark_urgent(tx, now).await?;
    audit::append(
        tx,
        &AuditDraft::new(actor, "resident.delete")
            .subject(format!("resident:{public}"))
            .after(json!({"erased": true, "signed_out_devices": tokens})),
        now,
    )
    .await?;
    // What the audit chain sealed about them is forgotten with their key, at once when no
    // incident may still need it (open, or within its retention), else by the retention task
    // when the last such incident is anonymised.
    let cutoff = now - chrono::Duration::days(i64::from(ctx.retention.after_all_clear_days));
    if !crate::store::retention::any_live(&ctx.db, cutoff).await? {
        crate::store::audit_keys::destroy(tx, &[format!("resident:{public}")]).await?;
    }
    Ok(true)
}

/// "Delete me" (residents).
pub async fn request(ctx: &Ctx, p: &Principal) -> Result<DeletionView> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id, internal } = p else {
        return Err(ServiceError::Forbidden);
    };
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let waiting = deletion::blockers(&mut tx, *internal, now).await?;
    if waiting.is_empty() {
        erase(ctx, &mut tx, *internal, id.0, &p.actor(), now).await?;
    } else {
        deletion::queue(&mut tx, *internal, &waiting.join(","), now).await?;
        audit::append(
            &mut tx,
            &AuditDraft::new(p.actor(), "resident.delete_requested")
                .subject(format!("resident:{id}"))
                .after(json!({"waiting_for": waiting})),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if waiting.is_empty() {
        // Its tokens were revoked: no cached principal may outlive them on this server.
        ctx.principals.clear();
    }
    let (zh, en) = explain(&waiting);
    Ok(DeletionView {
        status: if waiting.is_empty() {
            "deleted"
        } else {
            "queued"
        },
        waiting_for: waiting,
        zh,
        en,
    })
}

/// Carries out the queued deletions whose record nothing needs any more; how many.
pub async fn carry_out_queued(ctx: &Ctx, now: DateTime<Utc>) -> Result<usize> {
    let mut done = 0;
    for (internal, public) in deletion::waiting(&ctx.db, 500).await? {
        let mut tx = ctx.db.begin().await?;
        let waiting = deletion::blockers(&mut tx, internal, now).await?;
        if waiting.is_empty() {
            if erase(ctx, &mut tx, internal, public, "system", now).await? {
                done += 1;
            }
        } else {
            deletion::queue(&mut tx, internal, &waiting.join(","), now).await?;
        }
        tx.commit().await?;
    }
    if done > 0 {
        ctx.principals.clear();
    }
    Ok(done)
}

/// Looks at the queue every minute until the process ends.
pub async fn carry_out_every(ctx: Ctx) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = carry_out_queued(&ctx, ctx.now()).await {
            tracing::warn!(error = %e, "queued deletions failed; will retry");
        }
    }
}
