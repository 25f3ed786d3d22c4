//! Residents' own alerts and their acknowledgements.

use super::super::{Action, Ctx, Principal, Result, ServiceError, authz};
use super::{AlertView, view};
use crate::store::alerts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

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
