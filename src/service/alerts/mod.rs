//! Alerts that know who has been informed: sent to the residents of zones (snapshotted when
//! sent), counted per zone, and the list of those still to reach for officials (personal
//! data: officials only, every read audited). The other jobs live beside this file:
//! residents' acknowledgements (`acks`), the ways to reach people again (`channels`, with the
//! gateway's outbox in `outbox` and the signed webhook in `webhook`), resending (`resend`),
//! timed escalation (`escalation`), and the CAP messages and Atom feed (`cap`).

mod acks;
mod cap;
mod channels;
pub mod contacts;
mod door;
mod escalation;
pub mod links;
mod outbox;
mod resend;
pub mod sms;
pub mod webhook;

pub use acks::{Acknowledged, InboxItem, acknowledge, inbox};
pub use cap::{CapAlert, CapArea, FEED_WINDOW, FeedEntry, cap, feed};
pub use channels::{Channel, Outbox, RESEND_QUIET};
pub use contacts::{ContactForm, ContactView};
pub use door::{DoorToDoor, Household, Try, Village, door_to_door};
pub use escalation::{escalate_due, escalate_when_due};
pub use links::{LinkAck, use_link};
pub use outbox::{OutboxMessage, delivered, outbox};
pub use resend::{ResendForm, Resent, resend};

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::alert::{AlertForm, NewAlert};
use crate::domain::{AuditDraft, Need};
use crate::store::{alerts, audit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sent {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Residents of the zones when it was sent.
    pub recipients: i64,
}

/// Sends an alert to the zones' residents (officials, within their jurisdiction). With an
/// idempotency key, a retry of the same form (a phone that lost the answer on a bad network)
/// gets the first answer and nobody is alerted twice.
pub async fn send(
    ctx: &Ctx,
    p: &Principal,
    form: &AlertForm,
    idempotency_key: Option<&str>,
) -> Result<Sent> {
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
    let ticket = match super::idempotency::begin_form::<Sent, _>(
        &ctx.id_key,
        &mut tx,
        ("alert", p),
        idempotency_key,
        &[],
        form,
        now,
    )
    .await?
    {
        super::idempotency::Once::Replay(first) => return Ok(first),
        super::idempotency::Once::Go(ticket) => ticket,
    };
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
            language: a.language.as_str(),
            translation: a.translation.as_ref(),
            escalate_every_secs: a.escalate_every.map(|d| d.num_seconds()),
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
    // The villages' and the incident's groups hear of it at once.
    let mut texts = vec![crate::domain::alert::AlertText {
        language: a.language,
        headline: a.headline.clone(),
        description: a.description.clone(),
        instruction: a.instruction.clone(),
    }];
    texts.extend(a.translation.clone());
    let queued_contacts = contacts::queue_for_alert(
        ctx,
        &mut tx,
        &contacts::NewAlertFor {
            id,
            public_id,
            texts: &texts,
            zone_ids: &zone_ids,
            incident: a.incident_id,
        },
        now,
    )
    .await?;
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
    let sent = Sent {
        id: public_id,
        recipients,
    };
    ticket.complete(&mut tx, 201, &sent).await?;
    tx.commit().await?;
    if queued_contacts > 0 {
        ctx.contacts_wake.notify_one();
    }
    Ok(sent)
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
    /// The language of the headline, description and instruction (`zh` or `en`).
    pub language: String,
    /// The same words in the other language, when the sender wrote them.
    #[schema(value_type = Option<Object>)]
    pub translation: Option<crate::domain::alert::AlertText>,
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
        language: a.language.clone(),
        translation: a.translation.as_ref().map(|t| t.0.clone()),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertSummary {
    #[serde(flatten)]
    pub alert: AlertView,
    pub recipients: i64,
    pub acknowledged: i64,
    pub pending: i64,
    /// The areas it went to (CAP `area`), for the console's map.
    pub areas: Vec<AlertArea>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertArea {
    pub desc: String,
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
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
            areas: r
                .alert
                .areas
                .as_ref()
                .map(|a| {
                    a.0.iter()
                        .map(|s| AlertArea {
                            desc: s.desc.clone(),
                            geometry: s.geometry.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
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
    pub reached: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertStatus {
    #[serde(flatten)]
    pub alert: AlertView,
    pub recipients: i64,
    pub acknowledged: i64,
    pub pending: i64,
    /// Recipients a gateway confirmed a message arrived to (acknowledged or not).
    pub reached: i64,
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
    // An anonymised alert answers from the counts it kept.
    let (acknowledged, median) = match alerts::kept_counts(&ctx.db, a.id).await? {
        Some(kept) => kept,
        None => {
            let times = alerts::ack_times(&ctx.db, a.id).await?;
            let median =
                (!times.is_empty()).then(|| (times[times.len() / 2] - a.sent_at).num_seconds());
            (times.len() as i64, median)
        }
    };
    let zones: Vec<ZoneReach> = alerts::per_zone(&ctx.db, a.id)
        .await?
        .into_iter()
        .map(|(zone_id, name, n, acked, reached)| ZoneReach {
            zone_id,
            name: name.unwrap_or_else(|| "(drawn area)".into()),
            recipients: n,
            acknowledged: acked,
            pending: n - acked,
            reached,
        })
        .collect();
    let recipients = i64::from(a.recipients);
    Ok(AlertStatus {
        alert: view(&a),
        recipients,
        acknowledged,
        pending: recipients - acknowledged,
        reached: zones.iter().map(|z| z.reached).sum(),
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
    /// When a gateway confirmed a message arrived; apart from acknowledging it.
    pub reached_at: Option<DateTime<Utc>>,
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
            reached_at: r.reached_at,
        })
        .collect())
}
