//! The outbox as an SMS or voice gateway drains it.

use super::super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::store::alerts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

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

/// A gateway reports a message delivered: its recipient is reached.
pub async fn delivered(ctx: &Ctx, p: &Principal, id: i64) -> Result<()> {
    authz::authorize(p, Action::DrainOutbox)?;
    let mut tx = ctx.db.begin().await?;
    if !alerts::delivered(&mut tx, id, ctx.now()).await? {
        return Err(ServiceError::NotFound("undelivered message"));
    }
    crate::store::channels::reached_by_outbox(&mut tx, id, ctx.now()).await?;
    tx.commit().await?;
    Ok(())
}
