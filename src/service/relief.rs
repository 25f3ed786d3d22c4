//! Relief items and handing them out within a daily quota per person or household.

use super::idempotency::{self, Once};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::AuditDraft;
use crate::domain::shelter::{NewReliefItem, QuotaPer, ReliefItemForm, local_day, quantity};
use crate::store::{audit, relief, shelters};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReliefItem {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub unit: String,
    pub quota: i32,
    /// `person` or `household`: whom the daily quota counts for.
    pub per: String,
    pub created_at: DateTime<Utc>,
}

fn item_view(r: relief::ItemRow) -> ReliefItem {
    ReliefItem {
        id: r.public_id,
        name: r.name,
        unit: r.unit,
        quota: r.quota,
        per: r.per,
        created_at: r.created_at,
    }
}

pub async fn create_item(ctx: &Ctx, p: &Principal, form: &ReliefItemForm) -> Result<ReliefItem> {
    authz::authorize(p, Action::ManageShelters)?;
    let item = NewReliefItem::parse(form)?;
    let now = ctx.now();
    let public_id = Uuid::new_v4();
    let mut tx = ctx.db.begin().await?;
    relief::insert_item(
        &mut tx,
        &relief::NewItem {
            public_id,
            name: &item.name,
            unit: &item.unit,
            quota: item.quota,
            per: item.per.as_str(),
            created_by: &p.actor(),
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "relief.item_create")
            .subject(format!("relief_item:{public_id}"))
            .after(
                json!({"name": item.name, "unit": item.unit, "quota": item.quota, "per": item.per}),
            ),
        now,
    )
    .await?;
    let row = relief::item_in(&mut tx, public_id)
        .await?
        .ok_or(ServiceError::NotFound("relief item"))?;
    tx.commit().await?;
    Ok(item_view(row))
}

pub async fn items(ctx: &Ctx, p: &Principal) -> Result<Vec<ReliefItem>> {
    authz::authorize(p, Action::ReadRelief)?;
    Ok(relief::items(&ctx.db)
        .await?
        .into_iter()
        .map(item_view)
        .collect())
}

/// The answer to a distribution; stored whole for an idempotent retry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Given {
    #[schema(value_type = String, format = Uuid)]
    pub distribution_id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub item_id: Uuid,
    pub quantity: i32,
    /// Given today to this person (or household), this one included.
    pub used: i32,
    pub remaining: i32,
    pub quota: i32,
    pub per: String,
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
}

pub struct GiveRequest<'a> {
    pub token: &'a str,
    pub item: Uuid,
    pub quantity: i64,
    pub idempotency_key: Option<&'a str>,
}

/// Hands out relief if the day's total for the person (or their household) stays within the
/// quota, at whichever shelter: one upsert decides, so concurrent desks cannot pass it.
pub async fn give(ctx: &Ctx, p: &Principal, shelter: Uuid, req: &GiveRequest<'_>) -> Result<Given> {
    super::shelters::ensure_may_act(ctx, p, shelter).await?;
    let n = quantity("quantity", req.quantity)?;
    let s = super::codes::scan(ctx, req.token).await?;
    let now = ctx.now();
    let day = local_day(now);
    let mut tx = ctx.db.begin().await?;
    let scope = format!("relief:{shelter}");
    let parts: [&[u8]; 3] = [
        s.resident_id.as_bytes(),
        req.item.as_bytes(),
        &n.to_be_bytes(),
    ];
    let ticket = match idempotency::begin(
        &ctx.id_key,
        &mut tx,
        &scope,
        req.idempotency_key,
        &parts,
        now,
    )
    .await?
    {
        Once::Replay(first) => return Ok(first),
        Once::Go(ticket) => ticket,
    };
    let shelter_id = shelters::locate(&mut tx, shelter)
        .await?
        .map(|r| r.id)
        .ok_or(ServiceError::NotFound("shelter"))?;
    let item = relief::item_in(&mut tx, req.item)
        .await?
        .ok_or(ServiceError::NotFound("relief item"))?;
    let per = QuotaPer::parse(&item.per)?;
    let subject = match per {
        QuotaPer::Person => s.resident_internal,
        QuotaPer::Household => s.household_internal,
    };
    let Some(used) = relief::consume(&mut tx, item.id, subject, day, n, item.quota).await? else {
        let used = relief::used(&mut tx, item.id, subject, day).await?;
        let remaining = (item.quota - used).max(0);
        let mut extensions = serde_json::Map::new();
        extensions.insert("remaining".into(), json!(remaining));
        extensions.insert("used".into(), json!(used));
        extensions.insert("quota".into(), json!(item.quota));
        extensions.insert("per".into(), json!(item.per));
        return Err(ServiceError::ConflictWith {
            code: "quota_exceeded",
            detail: format!(
                "only {remaining} {} of this item remain today for this {}",
                item.unit, item.per
            ),
            extensions,
        });
    };
    let distribution_id = Uuid::new_v4();
    relief::record(
        &mut tx,
        &relief::NewDistribution {
            public_id: distribution_id,
            shelter_id,
            item_id: item.id,
            resident_id: s.resident_internal,
            quantity: n,
            day,
            by: &p.actor(),
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "relief.give")
            .subject(format!("resident:{}", s.resident_id))
            .after(json!({"shelter": shelter, "item": req.item, "quantity": n, "used": used, "day": day})),
        now,
    )
    .await?;
    let answer = Given {
        distribution_id,
        item_id: req.item,
        quantity: n,
        used,
        remaining: item.quota - used,
        quota: item.quota,
        per: item.per,
        day,
    };
    ticket.complete(&mut tx, 201, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DistributionView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub item_id: Uuid,
    pub item: String,
    pub unit: String,
    pub quantity: i32,
    /// Absent once the incident's data was anonymised after its all-clear.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub resident_id: Option<Uuid>,
    pub given_at: DateTime<Utc>,
    /// The desk's role and random id, never a name.
    pub given_by: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Distributions {
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub distributions: Vec<DistributionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// A shelter's distributions on a local day (today by default), paged.
pub async fn of_day(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    day: Option<NaiveDate>,
    after: i64,
    limit: i64,
) -> Result<Distributions> {
    super::shelters::ensure_may_act(ctx, p, shelter).await?;
    let day = day.unwrap_or_else(|| local_day(ctx.now()));
    let limit = limit.clamp(1, 10_000);
    let shelter_id = shelters::internal_id_of(&ctx.db, shelter)
        .await?
        .ok_or(ServiceError::NotFound("shelter"))?;
    let rows = relief::of_day(&ctx.db, shelter_id, day, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    Ok(Distributions {
        day,
        next: if more {
            rows.last().map(|r| r.id)
        } else {
            None
        },
        distributions: rows
            .into_iter()
            .map(|r| DistributionView {
                id: r.public_id,
                item_id: r.item_id,
                item: r.item_name,
                unit: r.unit,
                quantity: r.quantity,
                resident_id: r.resident_id,
                given_at: r.given_at,
                given_by: r.given_by,
            })
            .collect(),
    })
}
