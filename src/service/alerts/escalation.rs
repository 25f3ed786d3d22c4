//! Alerts that escalate on their own: once their time comes, those who have not
//! acknowledged are reached again.

use super::super::{Ctx, Result};
use super::channels::{Channel, Outbox, message};
use crate::domain::AuditDraft;
use crate::store::{alerts, audit};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Re-sends every alert whose escalation time has come to whoever has not acknowledged it,
/// once, by SMS and (when configured) the webhook; how many alerts.
pub async fn escalate_due(ctx: &Ctx, now: DateTime<Utc>) -> Result<usize> {
    let mut channels: Vec<Box<dyn Channel>> = vec![Box::new(Outbox("sms"))];
    if ctx.alerting.webhook.is_some() {
        channels.push(Box::new(super::webhook::Webhook));
    }
    let mut tx = ctx.db.begin().await?;
    let due = alerts::claim_due_escalations(&mut tx, now).await?;
    for (id, public_id, headline, instruction) in &due {
        let mut queued = std::collections::BTreeMap::new();
        for c in &channels {
            let n = c
                .send_pending(&mut tx, *id, &message(headline, instruction), now)
                .await?;
            queued.insert(c.name(), n);
        }
        audit::append(
            &mut tx,
            &AuditDraft::new("system", "alert.escalate")
                .subject(format!("alert:{public_id}"))
                .after(json!({"queued": queued})),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if !due.is_empty() && channels.len() > 1 {
        ctx.webhook_wake.notify_one();
    }
    Ok(due.len())
}

/// Escalates due alerts every few seconds until the process ends.
pub async fn escalate_when_due(ctx: Ctx) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = escalate_due(&ctx, ctx.now()).await {
            tracing::warn!(error = %e, "alert escalation failed; will retry");
        }
    }
}
