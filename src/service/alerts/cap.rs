//! Alerts as OASIS CAP 1.2 messages and as the Atom feed of those in force.

use super::super::{Ctx, Result, ServiceError};
use crate::store::alerts;
use chrono::{DateTime, Utc};
use uuid::Uuid;

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
    /// One CAP `info` block per language the alert was written in, its own first.
    pub texts: Vec<crate::domain::alert::AlertText>,
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
    let mut texts = vec![super::channels::text_in(
        &a,
        crate::domain::message::Language::parse(&a.language).unwrap_or_default(),
    )];
    texts.extend(a.translation.clone().map(|t| t.0));
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
        texts,
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
