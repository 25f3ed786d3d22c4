//! Sending an alert again, through the channels an official asks for, to those who have not
//! acknowledged it.

use super::super::{Action, Ctx, Principal, Result, ServiceError, authz};
use super::channels::{Channel, Outbox, bodies};
use super::ensure_visible;
use crate::domain::AuditDraft;
use crate::store::{alerts, audit};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendForm {
    /// `sms`, `voice` and/or `webhook` (when configured); default `sms`.
    pub channels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resent {
    /// Per channel, how many messages were queued.
    pub queued: std::collections::BTreeMap<String, u64>,
    /// Recipients who have not acknowledged.
    pub pending: i64,
}

/// Sends the alert again to those who have not acknowledged, through the channels asked
/// (officials; audited).
pub async fn resend(ctx: &Ctx, p: &Principal, id: Uuid, form: &ResendForm) -> Result<Resent> {
    authz::authorize(p, Action::SendAlerts)?;
    let a = alerts::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    ensure_visible(p, &a)?;
    let wanted = form.channels.clone().unwrap_or_else(|| vec!["sms".into()]);
    let mut channels: Vec<Box<dyn Channel>> = Vec::new();
    for c in &wanted {
        channels.push(match c.as_str() {
            "sms" => Box::new(Outbox("sms")),
            "voice" => Box::new(Outbox("voice")),
            "webhook" if ctx.alerting.webhook.is_some() => Box::new(super::webhook::Webhook),
            "webhook" => {
                return Err(crate::domain::Invalid::new(
                    "channels",
                    "webhook_not_configured",
                    "no webhook is configured (alert_webhook_url)",
                )
                .into());
            }
            _ => {
                return Err(crate::domain::Invalid::new(
                    "channels",
                    "invalid_channel",
                    "channels are sms, voice and webhook",
                )
                .into());
            }
        });
    }
    let body = bodies(&a);
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let mut queued = std::collections::BTreeMap::new();
    for c in &channels {
        queued.insert(
            c.name().to_owned(),
            c.send_pending(&mut tx, a.id, &body, now).await?,
        );
    }
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "alert.resend")
            .subject(format!("alert:{id}"))
            .after(json!({"queued": queued})),
        now,
    )
    .await?;
    tx.commit().await?;
    if queued.get("webhook").is_some_and(|n| *n > 0) {
        ctx.webhook_wake.notify_one();
    }
    if queued.get("sms").is_some_and(|n| *n > 0) {
        ctx.sms_wake.notify_one();
    }
    let acknowledged = alerts::ack_times(&ctx.db, a.id).await?.len() as i64;
    Ok(Resent {
        queued,
        pending: i64::from(a.recipients) - acknowledged,
    })
}
