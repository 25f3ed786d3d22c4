//! Everything held about a resident, for them to take away (PIPL art. 45): their profile and
//! household, the alerts sent to them, their appeals and hazard reports, and their trail (which
//! holds their shelter stays, relief, the decisions about them and who looked). Their full ID
//! number is not in it because it is not kept: only a keyed hash of it and its last four.

use super::{Ctx, Principal, Result, ServiceError};
use crate::store::my_data;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SentAlert {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    pub headline: String,
    pub sent_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When a gateway confirmed a message to this phone arrived.
    pub reached_at: Option<DateTime<Utc>>,
    /// Messages queued to this phone for it: (channel, when).
    pub messages: Vec<(String, DateTime<Utc>)>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyReport {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    pub category: String,
    pub text: String,
    pub status: String,
    pub has_photo: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyData {
    pub exported_at: DateTime<Utc>,
    pub profile: super::residents::ResidentView,
    /// The language messages reach the household in.
    pub language: String,
    pub alerts: Vec<SentAlert>,
    pub appeals: Vec<super::appeals::AppealView>,
    pub reports: Vec<MyReport>,
    pub trail: super::trail::Trail,
    /// What is not held, and why.
    pub not_held: Vec<String>,
}

/// Everything held about me (residents).
pub async fn mine(ctx: &Ctx, p: &Principal) -> Result<MyData> {
    let Principal::Resident { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let profile = super::residents::me(ctx, p).await?;
    let alerts = my_data::alerts(&ctx.db, *internal).await?;
    let messages = my_data::messages(&ctx.db, *internal).await?;
    Ok(MyData {
        exported_at: ctx.now(),
        profile,
        language: my_data::language(&ctx.db, *internal).await?,
        alerts: alerts
            .into_iter()
            .map(|a| SentAlert {
                messages: messages
                    .iter()
                    .filter(|m| m.0 == a.alert_id)
                    .map(|m| (m.1.clone(), m.2))
                    .collect(),
                id: a.public_id,
                headline: a.headline,
                sent_at: a.sent_at,
                acknowledged_at: a.acknowledged_at,
                reached_at: a.reached_at,
            })
            .collect(),
        appeals: super::appeals::mine(ctx, p).await?,
        reports: my_data::reports(&ctx.db, *internal)
            .await?
            .into_iter()
            .map(|r| MyReport {
                id: r.public_id,
                category: r.category,
                text: r.text,
                status: r.status,
                has_photo: r.has_photo,
                created_at: r.created_at,
            })
            .collect(),
        trail: super::trail::mine(ctx, p).await?,
        not_held: vec![
            "ID number: only a keyed hash (to find a duplicate) and its last four characters \
             are kept / 证件号码：只保存其带密钥的散列值（用于发现重复登记）和后四位"
                .into(),
        ],
    })
}
