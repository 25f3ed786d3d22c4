//! Alerts that know who has been informed: sent to the residents of zones (snapshotted when
//! sent), acknowledged by residents, counted per zone, and the list of those still to reach
//! for officials (personal data: officials only, every read audited).

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::alert::{AlertForm, NewAlert};
use crate::domain::{AuditDraft, Need};
use crate::store::{alerts, audit};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sent {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Residents of the zones when it was sent.
    pub recipients: i64,
}

/// Sends an alert to the zones' residents (officials, within their jurisdiction).
pub async fn send(ctx: &Ctx, p: &Principal, form: &AlertForm) -> Result<Sent> {
    authz::authorize(p, Action::SendAlerts)?;
    let now = ctx.now();
    let a = NewAlert::parse(form, now)?;
    let mut zone_ids = Vec::with_capacity(a.zones.len());
    let mut areas = Vec::with_capacity(a.zones.len() + 1);
    for z in &a.zones {
        let zone = super::orders::zone_in_reach(ctx, p, *z).await?;
        zone_ids.push(zone.id);
        areas.push(alerts::AreaSnapshot {
            desc: zone.name,
            geometry: zone.geometry.0,
        });
    }
    if let Some(t) = &a.area {
        authz::ensure_zone_in_jurisdiction(p, &t.shape)?;
        areas.push(alerts::AreaSnapshot {
            desc: t.desc.clone(),
            geometry: t.shape.to_geojson(),
        });
    }
    let references_id = match a.references {
        Some(r) => Some(
            alerts::get(&ctx.db, r)
                .await?
                .ok_or(ServiceError::NotFound("referenced alert"))?
                .id,
        ),
        None => None,
    };
    let public_id = Uuid::new_v4();
    let mut tx = ctx.db.begin().await?;
    // Taken first: no resident can join a zone between the snapshot and the audit entry.
    audit::lock_chain(&mut tx).await?;
    let id = alerts::insert(
        &mut tx,
        &alerts::AlertInsert {
            public_id,
            msg_type: a.msg_type.as_str(),
            references_id,
            category: a.category.as_str(),
            event: &a.event,
            response_type: a.response_type.as_str(),
            urgency: a.urgency.as_str(),
            severity: a.severity.as_str(),
            certainty: a.certainty.as_str(),
            headline: &a.headline,
            description: &a.description,
            instruction: &a.instruction,
            zones: &a.zones,
            expires_at: a.expires_at,
            incident_id: a.incident_id,
            escalate_at: a.escalate_at,
            areas: &areas,
            sent_by: &p.actor(),
        },
        now,
    )
    .await?;
    alerts::snapshot_recipients(&mut tx, id, &zone_ids).await?;
    if let Some(t) = &a.area {
        let b = t.shape.bbox;
        let inside: Vec<i64> =
            alerts::residents_in_box(&mut tx, (b.min().x, b.min().y), (b.max().x, b.max().y))
                .await?
                .into_iter()
                .filter(|(_, lat, lon)| {
                    t.shape.contains(crate::domain::Location {
                        lat: *lat,
                        lon: *lon,
                    })
                })
                .map(|(id, _, _)| id)
                .collect();
        alerts::add_area_recipients(&mut tx, id, &inside).await?;
    }
    let recipients = alerts::count_recipients(&mut tx, id).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "alert.send")
            .subject(format!("alert:{public_id}"))
            .after(
                json!({"zones": a.zones, "area": a.area.is_some(), "msg_type": a.msg_type.as_str(),
                          "response_type": a.response_type.as_str(), "recipients": recipients}),
            ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Sent {
        id: public_id,
        recipients,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub msg_type: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub references: Option<Uuid>,
    pub category: String,
    pub event: String,
    pub response_type: String,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub sent_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

fn view(a: &alerts::AlertRow) -> AlertView {
    AlertView {
        id: a.public_id,
        msg_type: a.msg_type.clone(),
        references: a.references_public_id,
        category: a.category.clone(),
        event: a.event.clone(),
        response_type: a.response_type.clone(),
        urgency: a.urgency.clone(),
        severity: a.severity.clone(),
        certainty: a.certainty.clone(),
        headline: a.headline.clone(),
        description: a.description.clone(),
        instruction: a.instruction.clone(),
        sent_at: a.sent_at,
        expires_at: a.expires_at,
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertSummary {
    #[serde(flatten)]
    pub alert: AlertView,
    pub recipients: i64,
    pub acknowledged: i64,
    pub pending: i64,
}

/// Whether an official may see an alert's reach and recipients: everyone without a district;
/// one with a district when every area it went to lies inside it (an alert over several
/// districts is the province's to follow up).
fn visible(p: &Principal, a: &alerts::AlertRow) -> bool {
    let Some(j) = authz::jurisdiction(p) else {
        return true;
    };
    let Some(areas) = &a.areas else {
        return false;
    };
    !areas.0.is_empty()
        && areas
            .0
            .iter()
            .all(|s| crate::geo::Area::from_geometry(&s.geometry).is_ok_and(|g| j.covers(&g)))
}

fn ensure_visible(p: &Principal, a: &alerts::AlertRow) -> Result<()> {
    if visible(p, a) {
        Ok(())
    } else {
        Err(ServiceError::OutsideJurisdiction)
    }
}

/// The latest 100 alerts with their reach (officials; with a district, those sent inside it).
pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Vec<AlertSummary>> {
    authz::authorize(p, Action::SendAlerts)?;
    Ok(alerts::recent(&ctx.db, 100)
        .await?
        .iter()
        .filter(|r| visible(p, &r.alert))
        .map(|r| AlertSummary {
            alert: view(&r.alert),
            recipients: i64::from(r.alert.recipients),
            acknowledged: r.acknowledged,
            pending: i64::from(r.alert.recipients) - r.acknowledged,
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    #[serde(flatten)]
    pub alert: AlertView,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// A resident's alerts, newest first, with whether they acknowledged each.
pub async fn inbox(ctx: &Ctx, p: &Principal) -> Result<Vec<InboxItem>> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    Ok(alerts::inbox(&ctx.db, *internal, 200)
        .await?
        .iter()
        .map(|r| InboxItem {
            alert: view(&r.alert),
            acknowledged_at: r.acknowledged_at,
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    /// The first acknowledgement's time (a repeat changes nothing).
    pub acknowledged_at: DateTime<Utc>,
}

/// "I have read this": idempotent.
pub async fn acknowledge(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<Acknowledged> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let a = alerts::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    // Not a recipient and no such alert look alike: the answer says nothing of who got what.
    let at = alerts::acknowledge(&ctx.db, a.id, *internal, ctx.now())
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    Ok(Acknowledged {
        acknowledged_at: at,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneReach {
    /// None for those reached through the drawn area alone.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub zone_id: Option<Uuid>,
    pub name: String,
    pub recipients: i64,
    pub acknowledged: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertStatus {
    #[serde(flatten)]
    pub alert: AlertView,
    pub recipients: i64,
    pub acknowledged: i64,
    pub pending: i64,
    /// Median time from sending to acknowledgement, of those who acknowledged.
    pub median_seconds_to_ack: Option<i64>,
    pub zones: Vec<ZoneReach>,
}

/// Who has been informed (officials).
pub async fn status(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<AlertStatus> {
    authz::authorize(p, Action::SendAlerts)?;
    let a = alerts::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    ensure_visible(p, &a)?;
    let times = alerts::ack_times(&ctx.db, a.id).await?;
    let median = (!times.is_empty()).then(|| (times[times.len() / 2] - a.sent_at).num_seconds());
    let zones: Vec<ZoneReach> = alerts::per_zone(&ctx.db, a.id)
        .await?
        .into_iter()
        .map(|(zone_id, name, n, acked)| ZoneReach {
            zone_id,
            name: name.unwrap_or_else(|| "(drawn area)".into()),
            recipients: n,
            acknowledged: acked,
            pending: n - acked,
        })
        .collect();
    let recipients = i64::from(a.recipients);
    let acknowledged = times.len() as i64;
    Ok(AlertStatus {
        alert: view(&a),
        recipients,
        acknowledged,
        pending: recipients - acknowledged,
        median_seconds_to_ack: median,
        zones,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recipient {
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub needs: Vec<Need>,
    /// None when reached through the drawn area alone.
    pub zone: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// The people to reach (personal data): officials only; every read is audited.
pub async fn recipients(
    ctx: &Ctx,
    p: &Principal,
    id: Uuid,
    acknowledged: Option<bool>,
    page: i64,
    per_page: i64,
) -> Result<Vec<Recipient>> {
    authz::authorize(p, Action::SendAlerts)?;
    let a = alerts::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    ensure_visible(p, &a)?;
    let per_page = per_page.clamp(1, 10_000);
    let page = page.max(0);
    let rows = alerts::recipients(&ctx.db, a.id, acknowledged, page * per_page, per_page).await?;
    let mut tx = ctx.db.begin().await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "alert.recipients.read")
            .subject(format!("alert:{id}"))
            .after(json!({"acknowledged": acknowledged, "page": page, "rows": rows.len()})),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Recipient {
            resident_id: r.public_id,
            name: r.name,
            phone: r.phone,
            address: r.address,
            needs: r.needs.0,
            zone: r.zone,
            acknowledged_at: r.acknowledged_at,
        })
        .collect())
}

/// A way to reach residents who have not acknowledged an alert.
pub trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    /// Queues or sends `body` to the alert's pending recipients (not those sent it within
    /// [`RESEND_QUIET`]); how many.
    fn send_pending<'a>(
        &'a self,
        tx: &'a mut crate::store::Tx,
        alert_id: i64,
        body: &'a str,
        now: DateTime<Utc>,
    ) -> futures_util::future::BoxFuture<'a, Result<u64>>;
}

/// The same alert reaches a phone at most once in this long on each channel.
pub const RESEND_QUIET: chrono::Duration = chrono::Duration::minutes(10);

/// Rows in the outbox table, drained by an SMS or voice gateway (`GET /v1/outbox`).
pub struct Outbox(pub &'static str);

impl Channel for Outbox {
    fn name(&self) -> &'static str {
        self.0
    }

    fn send_pending<'a>(
        &'a self,
        tx: &'a mut crate::store::Tx,
        alert_id: i64,
        body: &'a str,
        now: DateTime<Utc>,
    ) -> futures_util::future::BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(alerts::queue_pending(tx, alert_id, self.0, body, now, now - RESEND_QUIET).await?)
        })
    }
}

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
    let body = message(&a.headline, &a.instruction);
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
    let acknowledged = alerts::ack_times(&ctx.db, a.id).await?.len() as i64;
    Ok(Resent {
        queued,
        pending: i64::from(a.recipients) - acknowledged,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: String,
    #[schema(value_type = String, format = Uuid)]
    pub alert_id: Uuid,
    pub phone: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Undelivered messages for a gateway (admins: a gateway signs in as one).
pub async fn outbox(
    ctx: &Ctx,
    p: &Principal,
    channel: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<OutboxMessage>> {
    authz::authorize(p, Action::DrainOutbox)?;
    Ok(
        alerts::outbox(&ctx.db, channel, after, limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(|o| OutboxMessage {
                id: o.id,
                channel: o.channel,
                alert_id: o.alert_public_id,
                phone: o.phone,
                body: o.body,
                created_at: o.created_at,
            })
            .collect(),
    )
}

/// A gateway reports a message delivered.
pub async fn delivered(ctx: &Ctx, p: &Principal, id: i64) -> Result<()> {
    authz::authorize(p, Action::DrainOutbox)?;
    let mut tx = ctx.db.begin().await?;
    if !alerts::delivered(&mut tx, id, ctx.now()).await? {
        return Err(ServiceError::NotFound("undelivered message"));
    }
    tx.commit().await?;
    Ok(())
}

fn message(headline: &str, instruction: &str) -> String {
    format!("{headline}: {instruction}")
        .chars()
        .take(500)
        .collect()
}

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

/// An alert as CAP 1.2 says it (see `http::cap`).
#[derive(Debug, Clone)]
pub struct CapAlert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<Utc>,
    pub msg_type: String,
    /// The referenced alert's identifier and sent time.
    pub references: Option<(String, DateTime<Utc>)>,
    pub incident: Option<String>,
    pub category: String,
    pub event: String,
    pub response_type: String,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub expires: Option<DateTime<Utc>>,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub areas: Vec<CapArea>,
}

#[derive(Debug, Clone)]
pub struct CapArea {
    pub desc: String,
    /// Outer rings as (lat, lon), closed.
    pub polygons: Vec<Vec<(f64, f64)>>,
}

/// One alert for the public CAP feed: what was sent to whom is public warning; who received
/// it is not, and is not in it.
pub async fn cap(ctx: &Ctx, id: Uuid) -> Result<CapAlert> {
    let a = alerts::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    let mut areas = Vec::new();
    for s in a.areas.as_ref().map(|j| j.0.as_slice()).unwrap_or_default() {
        let shape = crate::geo::Area::from_geometry(&s.geometry)
            .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
        areas.push(CapArea {
            desc: s.desc.clone(),
            polygons: shape.outer_rings(),
        });
    }
    Ok(CapAlert {
        identifier: a.public_id.to_string(),
        sender: ctx.alerting.cap_sender.clone(),
        sent: a.sent_at,
        msg_type: a.msg_type,
        references: a
            .references_public_id
            .zip(a.references_sent_at)
            .map(|(r, t)| (r.to_string(), t)),
        incident: a.incident_id.map(|i| i.to_string()),
        category: a.category,
        event: a.event,
        response_type: a.response_type,
        urgency: a.urgency,
        severity: a.severity,
        certainty: a.certainty,
        expires: a.expires_at,
        headline: a.headline,
        description: a.description,
        instruction: a.instruction,
        areas,
    })
}

#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub id: Uuid,
    pub headline: String,
    pub msg_type: String,
    pub event: String,
    pub severity: String,
    pub urgency: String,
    pub sent: DateTime<Utc>,
}

/// An alert without an expiry stays in the feed this long.
pub const FEED_WINDOW: chrono::Duration = chrono::Duration::hours(48);

/// Alerts in force for the public feed, newest first: not expired, not cancelled, sent in
/// the last [`FEED_WINDOW`] unless they carry a later expiry.
pub async fn feed(ctx: &Ctx) -> Result<Vec<FeedEntry>> {
    let now = ctx.now();
    Ok(alerts::active(&ctx.db, now, now - FEED_WINDOW)
        .await?
        .into_iter()
        .map(|a| FeedEntry {
            id: a.public_id,
            headline: a.headline,
            msg_type: a.msg_type,
            event: a.event,
            severity: a.severity,
            urgency: a.urgency,
            sent: a.sent_at,
        })
        .collect())
}
