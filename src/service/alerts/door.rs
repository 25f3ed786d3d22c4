//! Where escalation ends: the people who have not acknowledged an alert after every channel,
//! village by village, with what was tried for each, for officials to knock on doors.
//! Personal data: officials only, each within their district, every read audited.

use super::super::{Action, Ctx, Principal, Result, ServiceError, authz};
use super::visible;
use crate::domain::{AuditDraft, Location, Need};
use crate::store::{alerts, audit, channels};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Try {
    /// `sms`, `voice` or `webhook`.
    pub channel: String,
    /// Messages queued on this channel.
    pub messages: i64,
    /// Attempts to hand them to the gateway.
    pub attempts: i64,
    pub last_queued_at: DateTime<Utc>,
    /// When the gateway took the last one.
    pub sent_at: Option<DateTime<Utc>>,
    /// Set when the channel gave up after its retries.
    pub failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Household {
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub location: Option<Location>,
    pub needs: Vec<Need>,
    /// When a gateway confirmed a message arrived (they may have it and not have read it).
    pub reached_at: Option<DateTime<Utc>>,
    pub tried: Vec<Try>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Village {
    /// None for people reached through a drawn area alone.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub zone_id: Option<Uuid>,
    pub name: String,
    pub people: Vec<Household>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DoorToDoor {
    #[schema(value_type = String, format = Uuid)]
    pub alert_id: Uuid,
    /// Whether escalation has run its last step (before that, the list is still shrinking).
    pub escalation_done: bool,
    pub villages: Vec<Village>,
}

/// The door-to-door list of an alert, a page at a time (officials; audited).
pub async fn door_to_door(
    ctx: &Ctx,
    p: &Principal,
    id: Uuid,
    page: i64,
    per_page: i64,
) -> Result<DoorToDoor> {
    authz::authorize(p, Action::SendAlerts)?;
    let a = alerts::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("alert"))?;
    let per_page = per_page.clamp(1, 2000);
    let mut rows = channels::door_to_door(&ctx.db, a.id, page.max(0) * per_page, per_page).await?;
    // Each village's officials knock on their own doors: an official whose district holds only
    // part of the alert's areas gets the people who live in it (a page may then hold fewer).
    if !visible(p, &a) {
        rows.retain(|r| authz::sees(p, r.lat.zip(r.lon).map(|(lat, lon)| Location { lat, lon })));
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.resident_id).collect();
    let tried = channels::tried(&ctx.db, a.id, &ids).await?;
    let escalation_done = channels::escalation_done(&ctx.db, a.id).await?;
    let mut villages: Vec<(Option<i64>, Village)> = Vec::new();
    for r in rows {
        if villages.last().is_none_or(|(z, _)| *z != r.zone_id) {
            villages.push((
                r.zone_id,
                Village {
                    zone_id: r.zone_public_id,
                    name: r.zone.clone().unwrap_or_else(|| "(drawn area)".into()),
                    people: Vec::new(),
                },
            ));
        }
        let person = Household {
            resident_id: r.public_id,
            name: r.name,
            phone: r.phone,
            address: r.address,
            location: r.lat.zip(r.lon).map(|(lat, lon)| Location { lat, lon }),
            needs: r.needs.0,
            reached_at: r.reached_at,
            tried: tried
                .iter()
                .filter(|t| t.resident_id == r.resident_id)
                .map(|t| Try {
                    channel: t.channel.clone(),
                    messages: t.messages,
                    attempts: t.attempts,
                    last_queued_at: t.last_at,
                    sent_at: t.sent_at,
                    failed_at: t.failed_at,
                })
                .collect(),
        };
        if let Some((_, v)) = villages.last_mut() {
            v.people.push(person);
        }
    }
    let listed: usize = villages.iter().map(|(_, v)| v.people.len()).sum();
    let mut tx = ctx.db.begin().await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "alert.door_to_door.read")
            .subject(format!("alert:{id}"))
            .after(json!({"page": page, "rows": listed})),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(DoorToDoor {
        alert_id: id,
        escalation_done,
        villages: villages.into_iter().map(|(_, v)| v).collect(),
    })
}
