//! The webhook channel: re-sent alerts are queued in the outbox under `webhook` and this
//! process POSTs them, grouped per alert, as a signed JSON body to the configured address,
//! retrying with exponential backoff. Delivery is at least once: every message carries its
//! outbox id for the receiver to drop repeats.

use super::channels::{Channel, RESEND_QUIET};
use super::{Ctx, Result};
use crate::config::WebhookSettings;
use crate::store::{alerts, channels};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::collections::BTreeMap;

/// Queues the alert for the webhook: one outbox row per pending recipient with a phone.
pub struct Webhook;

impl Channel for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send_pending<'a>(
        &'a self,
        tx: &'a mut crate::store::Tx,
        alert_id: i64,
        body: &'a alerts::Bodies,
        now: DateTime<Utc>,
    ) -> futures_util::future::BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(
                alerts::queue_pending(tx, alert_id, "webhook", body, now, now - RESEND_QUIET)
                    .await?,
            )
        })
    }
}

/// After this many failed attempts a message is given up (`failed_at` set).
pub const MAX_ATTEMPTS: i32 = 8;
const BATCH: i64 = 500;
/// A claimed message is not claimed again (by this or another server) for this long.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
const MAX_BACKOFF_MS: u64 = 10 * 60 * 1000;
pub const SIGNATURE_HEADER: &str = "Safecode-Signature";

/// The wait before the next attempt after `attempts` failed ones: base, 2×, 4×… at most
/// 10 minutes.
pub fn backoff(base_ms: u64, attempts: i32) -> chrono::Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let ms = base_ms.saturating_mul(1 << doublings).min(MAX_BACKOFF_MS);
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the scheme Stripe and others use:
/// the timestamp is signed so a captured request cannot be replayed later unnoticed.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub failed: usize,
}

/// Sends what is due now; what was delivered and what failed this round.
pub async fn deliver_due(
    ctx: &Ctx,
    client: &reqwest::Client,
    hook: &WebhookSettings,
) -> Result<Round> {
    let now = ctx.now();
    if !channels::due(&ctx.db, "webhook", now).await? {
        return Ok(Round::default());
    }
    let mut tx = ctx.db.begin().await?;
    let claimed = channels::claim(&mut tx, "webhook", now, now + LEASE, BATCH).await?;
    let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
    let rows = alerts::webhook_rows(&mut tx, &ids).await?;
    tx.commit().await?;
    let mut per_alert: BTreeMap<i64, Vec<alerts::WebhookRow>> = BTreeMap::new();
    for r in rows {
        per_alert.entry(r.alert_id).or_default().push(r);
    }
    let mut round = Round::default();
    for msgs in per_alert.values() {
        let a = &msgs[0];
        let body = serde_json::to_vec(&json!({
            "type": "alert.pending",
            "alert": {"id": a.alert_public_id, "msg_type": a.msg_type, "headline": a.headline,
                      "severity": a.severity, "urgency": a.urgency,
                      "response_type": a.response_type},
            "messages": msgs.iter().map(|m| json!({
                "id": m.id, "resident_id": m.resident_public_id, "phone": m.phone,
                "body": m.body, "attempt": m.attempts})).collect::<Vec<_>>(),
        }))
        .map_err(super::ServiceError::internal)?;
        let ids: Vec<i64> = msgs.iter().map(|m| m.id).collect();
        let sent_at = ctx.now();
        let ok = client
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&hook.secret, sent_at.timestamp(), &body),
            )
            .body(body)
            .send()
            .await
            .inspect_err(|e| {
                // The cause only (a refused certificate, a timeout): never the body.
                tracing::warn!(error = %crate::outbound::cause(e), "webhook request failed");
            })
            .is_ok_and(|r| r.status().is_success());
        if ok {
            channels::sent(&ctx.db, &ids, ctx.now()).await?;
            round.delivered += ids.len();
        } else {
            let attempts = msgs.iter().map(|m| m.attempts).max().unwrap_or(1);
            let retry_at = (attempts < MAX_ATTEMPTS)
                .then(|| ctx.now() + backoff(hook.retry_base_ms, attempts));
            // The receiver's answer is not logged: it may echo personal data.
            tracing::warn!(
                messages = ids.len(),
                attempts,
                gave_up = retry_at.is_none(),
                "webhook delivery failed"
            );
            channels::retry(&ctx.db, &ids, retry_at, ctx.now()).await?;
            round.failed += ids.len();
        }
    }
    Ok(round)
}

/// Delivers webhook messages as they are queued and when their retry is due, until the
/// process ends. Does nothing without a configured webhook.
pub async fn deliver_when_due(ctx: Ctx) {
    let Some(hook) = ctx.alerting.webhook.clone() else {
        return;
    };
    let client = match ctx
        .outbound
        .check(&hook.url)
        .and_then(|_| ctx.outbound.client(std::time::Duration::from_secs(10)))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the webhook client; webhook messages wait");
            return;
        }
    };
    // Often enough that a retry waits about as long as asked, rarely enough to be idle.
    let poll = std::time::Duration::from_millis(hook.retry_base_ms.clamp(50, 1000));
    loop {
        match deliver_due(&ctx, &client, &hook).await {
            // More may be waiting behind a full batch.
            Ok(r) if r.delivered + r.failed >= BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook round failed; will retry"),
        }
        tokio::select! {
            _ = ctx.webhook_wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(1000, 1).num_milliseconds(), 1000);
        assert_eq!(backoff(1000, 2).num_milliseconds(), 2000);
        assert_eq!(backoff(1000, 4).num_milliseconds(), 8000);
        assert_eq!(backoff(1000, 30).num_milliseconds(), 600_000);
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let s = signature("secret", 1_700_000_000, b"{}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_ne!(s, signature("secret", 1_700_000_001, b"{}"));
        assert_ne!(s, signature("secret", 1_700_000_000, b"{ }"));
        assert_ne!(s, signature("other", 1_700_000_000, b"{}"));
        // RFC 4231-style check against an independent computation of the same MAC.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"1700000000.{}");
        assert!(s.ends_with(&hex::encode(mac.finalize().into_bytes())));
    }
}
