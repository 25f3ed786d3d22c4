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

/// Open appeals first, oldest (most overdue) first; an official with a district sees those
/// of residents inside it.
pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Vec<AppealView>> {
    authz::authorize(p, Action::DecideAppeals)?;
    let now = ctx.now();
    Ok(appeals::list(&ctx.db)
        .await?
        .into_iter()
        .filter(|a| authz::sees(p, Location::from_columns(a.lat, a.lon)))
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

/// What deciding an appeal did: decided, or (upheld with overrides to clear that two
/// officials put in force) waits for a second official.
#[derive(Debug, Clone)]
pub enum Decided {
    Now(AppealView),
    Pending(Box<super::approvals::ApprovalView>),
}

/// An upheld appeal that clears approved overrides, as it waits for a second official: the
/// overrides the deciding official is shown, and no others.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingUphold {
    pub appeal: Uuid,
    pub reason: String,
    pub overrides: Vec<Uuid>,
}

/// Which overrides an upheld appeal clears.
enum Clearing {
    None,
    /// Those no second official approved: one official withdraws them alone.
    Unapproved,
    /// These, as a second official approved.
    These(Vec<Uuid>),
}

pub async fn decide(ctx: &Ctx, p: &Principal, id: Uuid, form: &DecisionForm) -> Result<Decided> {
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
    if a.status != "open" {
        return Err(already_decided());
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let approved = if form.clear_overrides {
        overrides::approved_overrides(&ctx.db, r.id).await?
    } else {
        Vec::new()
    };
    if !approved.is_empty() {
        // What two officials put in force, one does not take away.
        use super::approvals::{Payload, ResidentRequest, kind, request_for_resident};
        let pending = PendingUphold {
            appeal: id,
            reason: reason.to_owned(),
            overrides: approved.clone(),
        };
        let apply = serde_json::to_value(&pending).map_err(ServiceError::internal)?;
        let approval = request_for_resident(
            &mut tx,
            p,
            ResidentRequest {
                kind: kind::APPEAL,
                resident: (r.id, r.public_id),
                colour: None,
                reason_code: "appeal_upheld",
                reason_text: reason,
                payload: Payload {
                    show: json!({"appeal": id, "decision": "upheld", "clear_overrides": approved}),
                    apply,
                },
            },
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(Decided::Pending(Box::new(
            super::approvals::get(ctx, approval).await?,
        )));
    }
    record_decision(
        &mut tx,
        p,
        a.id,
        id,
        a.resident_id,
        a.resident_public_id,
        form.decision,
        // Overrides approved since the look above stay: only unapproved ones go at once.
        if form.clear_overrides {
            Clearing::Unapproved
        } else {
            Clearing::None
        },
        reason,
        json!({}),
        now,
    )
    .await?;
    tx.commit().await?;
    let a = appeals::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("appeal"))?;
    Ok(Decided::Now(view(ctx, a, now)))
}

fn already_decided() -> ServiceError {
    ServiceError::Conflict {
        code: "already_decided",
        detail: "this appeal was already decided".into(),
    }
}

/// Upholds an appeal and clears the resident's overrides, as a second official approved.
pub async fn apply_uphold(
    tx: &mut crate::store::Tx,
    p: &Principal,
    pending: &PendingUphold,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let a = appeals::get_tx(tx, pending.appeal)
        .await?
        .ok_or(ServiceError::NotFound("appeal"))?;
    record_decision(
        tx,
        p,
        a.id,
        pending.appeal,
        a.resident_id,
        a.resident_public_id,
        Decision::Upheld,
        Clearing::These(pending.overrides.clone()),
        &pending.reason,
        approved,
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn record_decision(
    tx: &mut crate::store::Tx,
    p: &Principal,
    appeal_internal: i64,
    appeal: Uuid,
    resident_internal: i64,
    resident: Uuid,
    decision: Decision,
    clearing: Clearing,
    reason: &str,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    if !appeals::decide(
        tx,
        appeal_internal,
        decision == Decision::Upheld,
        &p.actor(),
        reason,
        now,
    )
    .await?
    {
        return Err(already_decided());
    }
    let cleared = match clearing {
        Clearing::None => 0,
        Clearing::Unapproved => {
            overrides::clear_unapproved(tx, resident_internal, &p.actor(), now).await?
        }
        Clearing::These(ids) => {
            let mut n = 0;
            for id in ids {
                n += u64::from(overrides::clear(tx, resident_internal, id, &p.actor(), now).await?);
            }
            n
        }
    };
    let mut after = json!({"appeal": appeal, "status": decision, "overrides_cleared": cleared});
    if let (Some(a), Some(o)) = (after.as_object_mut(), approved.as_object()) {
        a.extend(o.clone());
    }
    audit::append(
        tx,
        &AuditDraft::new(p.actor(), "appeal.decide")
            .subject(format!("resident:{resident}"))
            .before(json!({"appeal": appeal, "status": "open"}))
            .after(after)
            .reason(reason),
        now,
    )
    .await?;
    Ok(())
}
