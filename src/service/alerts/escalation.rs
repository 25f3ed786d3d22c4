//! Alerts that escalate on their own, in steps `escalate_after` apart, each reaching only
//! those who have still not acknowledged: first an SMS (and the webhook, when configured),
//! then a voice call, then the village's officials through their DingTalk group and email,
//! with the door-to-door list (`door`) for whoever is left.

use super::super::{Ctx, Result};
use super::channels::{Channel, Outbox, bodies};
use crate::domain::AuditDraft;
use crate::store::{alerts, audit, channels};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

/// The steps, in order. An alert from before steps existed (no interval) has the first only.
const STEPS: i32 = 3;

/// Runs every escalation step that is due; how many steps ran. Each step runs once, also
/// with several servers (the step number is claimed in the database).
pub async fn escalate_due(ctx: &Ctx, now: DateTime<Utc>) -> Result<usize> {
    let mut ran = 0;
    for (id, public_id, step, every) in channels::due_escalations(&ctx.db, now).await? {
        let last = match every {
            Some(_) => STEPS,
            None => 1,
        };
        let next_at = (step + 1 < last)
            .then(|| every.map(|s| now + chrono::Duration::seconds(i64::from(s))))
            .flatten();
        let Some(a) = alerts::get(&ctx.db, public_id).await? else {
            continue;
        };
        let mut tx = ctx.db.begin().await?;
        if !channels::claim_step(&mut tx, id, step, next_at, now).await? {
            continue;
        }
        let mut queued = BTreeMap::new();
        match step + 1 {
            1 => {
                let mut via: Vec<Box<dyn Channel>> = vec![Box::new(Outbox("sms"))];
                if ctx.alerting.webhook.is_some() {
                    via.push(Box::new(super::webhook::Webhook));
                }
                for c in &via {
                    let n = c.send_pending(&mut tx, id, &bodies(&a), now).await?;
                    queued.insert(c.name().to_owned(), n);
                }
            }
            2 => {
                let n = Outbox("voice")
                    .send_pending(&mut tx, id, &bodies(&a), now)
                    .await?;
                queued.insert("voice".to_owned(), n);
            }
            _ => {
                let n = super::contacts::queue_escalation(ctx, &mut tx, &a, now).await?;
                queued.insert("contacts".to_owned(), n);
            }
        }
        audit::append(
            &mut tx,
            &AuditDraft::new("system", "alert.escalate")
                .subject(format!("alert:{public_id}"))
                .after(json!({"step": step + 1, "queued": queued})),
            now,
        )
        .await?;
        tx.commit().await?;
        ran += 1;
        if queued.get("webhook").is_some_and(|n| *n > 0) {
            ctx.webhook_wake.notify_one();
        }
        if queued.get("sms").is_some_and(|n| *n > 0) {
            ctx.sms_wake.notify_one();
        }
        if queued.get("contacts").is_some_and(|n| *n > 0) {
            ctx.contacts_wake.notify_one();
        }
    }
    Ok(ran)
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
