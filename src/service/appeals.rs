//! Appeals: a resident contests their colour; an official decides, with a reason.

use super::colour::verdict_of;
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Colour, Invalid, Location};
use crate::store::{appeals, audit, overrides, residents};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealForm {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppealView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: Uuid,
    pub text: String,
    /// The colour when the appeal was made.
    pub colour: Colour,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// When a decision is due.
    pub decide_by: DateTime<Utc>,
    /// Open past its deadline.
    pub overdue: bool,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

fn view(ctx: &Ctx, a: appeals::AppealRow, now: DateTime<Utc>) -> AppealView {
    let decide_by = a.created_at + ctx.appeal_deadline;
    AppealView {
        id: a.public_id,
        resident_id: a.resident_public_id,
        text: a.text,
        colour: Colour::from_code(i64::from(a.colour)).unwrap_or(Colour::Red),
        overdue: a.status == "open" && decide_by < now,
        status: a.status,
        created_at: a.created_at,
        decide_by,
        decided_by: a.decided_by,
        decided_at: a.decided_at,
        decision_reason: a.decision_reason,
    }
}

pub async fn appeal(ctx: &Ctx, p: &Principal, form: &AppealForm) -> Result<AppealView> {
    authz::authorize(p, Action::Appeal)?;
    let Principal::Resident { id, internal } = p else {
        return Err(ServiceError::Forbidden);
    };
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(
            Invalid::new("text", "invalid_appeal", "say why in 1 to 2000 characters").into(),
        );
    }
    let colour = verdict_of(ctx, *internal)
        .await?
        .map_or(Colour::Green, |v| v.colour);
    let now = ctx.now();
    let public_id = Uuid::new_v4();
    let mut tx = ctx.db.begin().await?;
    appeals::insert(
        &mut tx,
        public_id,
        *internal,
        text,
        i32::from(colour.code()),
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "appeal.open")
            .subject(format!("resident:{id}"))
            .after(json!({"appeal": public_id, "colour": colour})),
        now,
    )
    .await?;
    tx.commit().await?;
    let a = appeals::get(&ctx.db, public_id)
        .await?
        .ok_or(ServiceError::NotFound("appeal"))?;
    Ok(view(ctx, a, now))
}

pub async fn mine(ctx: &Ctx, p: &Principal) -> Result<Vec<AppealView>> {
    authz::authorize(p, Action::Appeal)?;
    let Principal::Resident { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let now = ctx.now();
    Ok(appeals::of_resident(&ctx.db, *internal)
        .await?
        .into_iter()
        .map(|a| view(ctx, a, now))
        .collect())
}

/// Open appeals first, oldest (most overdue) first.
pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Vec<AppealView>> {
    authz::authorize(p, Action::DecideAppeals)?;
    let now = ctx.now();
    Ok(appeals::list(&ctx.db)
        .await?
        .into_iter()
        .map(|a| view(ctx, a, now))
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Upheld,
    Rejected,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionForm {
    pub decision: Decision,
    pub reason: String,
    /// With an upheld appeal: clear the resident's overrides.
    #[serde(default)]
    pub clear_overrides: bool,
}

pub async fn decide(ctx: &Ctx, p: &Principal, id: Uuid, form: &DecisionForm) -> Result<AppealView> {
    authz::authorize(p, Action::DecideAppeals)?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(Invalid::new(
            "reason",
            "invalid_reason",
            "a decision needs a reason of 1 to 1000 characters",
        )
        .into());
    }
    if form.clear_overrides && form.decision != Decision::Upheld {
        return Err(Invalid::new(
            "clear_overrides",
            "invalid_decision",
            "only an upheld appeal clears overrides",
        )
        .into());
    }
    let a = appeals::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("appeal"))?;
    let r = residents::by_public_id(&ctx.db, a.resident_public_id)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    if !appeals::decide(
        &mut tx,
        a.id,
        form.decision == Decision::Upheld,
        &p.actor(),
        reason,
        now,
    )
    .await?
    {
        return Err(ServiceError::Conflict {
            code: "already_decided",
            detail: "this appeal was already decided".into(),
        });
    }
    let cleared = if form.clear_overrides {
        overrides::clear_all(&mut tx, a.resident_id, &p.actor(), now).await?
    } else {
        0
    };
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "appeal.decide")
            .subject(format!("resident:{}", a.resident_public_id))
            .before(json!({"appeal": id, "status": "open"}))
            .after(json!({"appeal": id, "status": form.decision, "overrides_cleared": cleared}))
            .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    let a = appeals::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("appeal"))?;
    Ok(view(ctx, a, now))
}
