//! Colour overrides for individuals: requested by one official, in force only once a second,
//! different official approves; always with a reason code and an expiry.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Colour, Invalid, Location, ResidentId};
use crate::store::{audit, overrides, residents};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

pub const REASON_CODES: [&str; 7] = [
    "hazard_at_home",
    "needs_assistance",
    "medical",
    "quarantine",
    "verified_safe",
    "correction",
    "other",
];
pub const MAX_DAYS: i64 = 30;
pub const MAX_BULK: usize = 10_000;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideForm {
    pub colour: Colour,
    /// One of hazard_at_home, needs_assistance, medical, quarantine, verified_safe, correction, other.
    pub reason_code: String,
    pub reason: String,
    /// Required; at most 30 days ahead.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkOverrideForm {
    #[schema(value_type = Vec<String>)]
    pub resident_ids: Vec<Uuid>,
    pub colour: Colour,
    pub reason_code: String,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
}

struct Valid {
    colour: Colour,
    reason_code: String,
    reason: String,
    expires_at: DateTime<Utc>,
}

fn validate(
    colour: Colour,
    code: &str,
    reason: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Valid, Invalid> {
    if !REASON_CODES.contains(&code) {
        return Err(Invalid::new(
            "reason_code",
            "invalid_reason_code",
            format!("reason_code is one of {}", REASON_CODES.join(", ")),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Invalid::new(
            "reason",
            "invalid_reason",
            "a reason of 1 to 500 characters is required",
        ));
    }
    if expires_at <= now {
        return Err(Invalid::new(
            "expires_at",
            "expiry_in_past",
            "expires_at must be in the future",
        ));
    }
    if expires_at > now + Duration::days(MAX_DAYS) {
        return Err(Invalid::new(
            "expires_at",
            "expiry_too_far",
            format!("an override lasts at most {MAX_DAYS} days"),
        ));
    }
    Ok(Valid {
        colour,
        reason_code: code.to_owned(),
        reason: reason.to_owned(),
        expires_at,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OverrideRequested {
    /// The override (for a single resident).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub id: Option<Uuid>,
    /// The approval a second official must give.
    #[schema(value_type = String, format = Uuid)]
    pub approval_id: Uuid,
    pub status: &'static str,
    pub colour: Colour,
    pub residents: usize,
    pub expires_at: DateTime<Utc>,
}

fn requester(p: &Principal) -> Result<i64> {
    match p {
        Principal::User { internal, .. } => Ok(*internal),
        Principal::Resident { .. } => Err(ServiceError::Forbidden),
    }
}

async fn request(
    ctx: &Ctx,
    p: &Principal,
    v: Valid,
    targets: Vec<(i64, Uuid)>,
    action: &'static str,
) -> Result<OverrideRequested> {
    let now = ctx.now();
    let approval_id = Uuid::new_v4();
    let ids: Vec<i64> = targets.iter().map(|(id, _)| *id).collect();
    let mut tx = ctx.db.begin().await?;
    let (_, override_ids) = overrides::request(
        &mut tx,
        &overrides::NewRequest {
            public_id: approval_id,
            kind: "override",
            colour: Some(i32::from(v.colour.code())),
            rule_version: None,
            reason_code: &v.reason_code,
            reason_text: &v.reason,
            expires_at: Some(v.expires_at),
            requested_by: &p.actor(),
            requester_id: requester(p)?,
        },
        &ids,
        now,
    )
    .await?;
    let subject = match targets.as_slice() {
        [(_, one)] => format!("resident:{one}"),
        _ => format!("approval:{approval_id}"),
    };
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), action)
            .subject(subject)
            .after(json!({"approval": approval_id, "colour": v.colour, "reason_code": v.reason_code, "expires_at": v.expires_at, "residents": ids.len(), "status": "pending_approval"}))
            .reason(v.reason.clone()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(OverrideRequested {
        id: (override_ids.len() == 1).then(|| override_ids[0]),
        approval_id,
        status: "pending_approval",
        colour: v.colour,
        residents: ids.len(),
        expires_at: v.expires_at,
    })
}

pub async fn request_one(
    ctx: &Ctx,
    p: &Principal,
    resident: ResidentId,
    form: &OverrideForm,
) -> Result<OverrideRequested> {
    authz::authorize(p, Action::ManageOverrides)?;
    let v = validate(
        form.colour,
        &form.reason_code,
        &form.reason,
        form.expires_at,
        ctx.now(),
    )?;
    let r = residents::by_public_id(&ctx.db, resident.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    request(ctx, p, v, vec![(r.id, r.public_id)], "override.request").await
}

/// Many residents at once (a list from the field): the same approval as one override.
pub async fn request_bulk(
    ctx: &Ctx,
    p: &Principal,
    form: &BulkOverrideForm,
) -> Result<OverrideRequested> {
    authz::authorize(p, Action::ManageOverrides)?;
    let v = validate(
        form.colour,
        &form.reason_code,
        &form.reason,
        form.expires_at,
        ctx.now(),
    )?;
    if form.resident_ids.is_empty() || form.resident_ids.len() > MAX_BULK {
        return Err(Invalid::new(
            "resident_ids",
            "invalid_resident_ids",
            format!("give 1 to {MAX_BULK} resident ids"),
        )
        .into());
    }
    let mut ids = form.resident_ids.clone();
    ids.sort();
    ids.dedup();
    let mut targets = Vec::with_capacity(ids.len());
    for id in ids {
        let r = residents::by_public_id(&ctx.db, id).await?.ok_or_else(|| {
            ServiceError::Invalid(Invalid::new(
                "resident_ids",
                "unknown_resident",
                format!("no resident {id}"),
            ))
        })?;
        authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
        targets.push((r.id, r.public_id));
    }
    request(ctx, p, v, targets, "override.request_bulk").await
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `override` (a colour for residents) or `rules` (activating a rule set version).
    pub kind: String,
    pub status: String,
    pub colour: Option<Colour>,
    pub rule_version: Option<i64>,
    pub reason_code: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// Residents whose colour it changes.
    pub residents: i32,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

pub fn view(a: overrides::ApprovalRow) -> ApprovalView {
    ApprovalView {
        id: a.public_id,
        kind: a.kind,
        status: a.status,
        colour: a.colour.and_then(|c| Colour::from_code(i64::from(c))),
        rule_version: a.rule_version,
        reason_code: a.reason_code,
        reason: a.reason_text,
        expires_at: a.expires_at,
        residents: a.residents,
        requested_by: a.requested_by,
        requested_at: a.requested_at,
        decided_by: a.decided_by,
        decided_at: a.decided_at,
        decision_reason: a.decision_reason,
    }
}

pub async fn approvals(
    ctx: &Ctx,
    p: &Principal,
    status: Option<&str>,
) -> Result<Vec<ApprovalView>> {
    authz::authorize(p, Action::ManageOverrides)?;
    if let Some(s) = status
        && !["pending", "approved", "rejected"].contains(&s)
    {
        return Err(Invalid::new(
            "status",
            "invalid_status",
            "status is pending, approved or rejected",
        )
        .into());
    }
    Ok(overrides::approvals(&ctx.db, status)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionForm {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Approves or rejects a pending request. The requester cannot decide their own request.
pub async fn decide(
    ctx: &Ctx,
    p: &Principal,
    id: Uuid,
    approve: bool,
    form: &DecisionForm,
) -> Result<ApprovalView> {
    let decider_id = requester(p)?;
    // Before the lookup: someone who may decide nothing must not learn which ids exist.
    if !authz::allowed(p.role(), Action::ManageRules)
        && !authz::allowed(p.role(), Action::ManageOverrides)
    {
        return Err(ServiceError::Forbidden);
    }
    let a = overrides::approval(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("approval"))?;
    let rules = a.kind == "rules";
    if rules {
        authz::authorize(p, Action::ManageRules)?;
        if authz::jurisdiction(p).is_some() {
            // A rule set applies everywhere: only someone without a district decides it.
            return Err(ServiceError::OutsideJurisdiction);
        }
    } else {
        authz::authorize(p, Action::ManageOverrides)?;
    }
    if a.requester_id == decider_id {
        return Err(ServiceError::SameOfficial);
    }
    for (_, lat, lon, _) in overrides::residents_of(&ctx.db, a.id).await? {
        authz::ensure_resident_in_jurisdiction(p, Location::from_columns(lat, lon))?;
    }
    let reason = crate::domain::resident::optional_reason(form.reason.as_deref(), 500)?;
    let reason = reason.as_deref();
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    if !overrides::decide(&mut tx, a.id, approve, &p.actor(), decider_id, reason, now).await? {
        return Err(ServiceError::Conflict {
            code: "already_decided",
            detail: "this request was already decided".into(),
        });
    }
    if approve && rules {
        let version = a.rule_version.ok_or_else(|| {
            crate::store::StoreError::Corrupt("rules approval without a version".into())
        })?;
        let previous = crate::store::rules::activate(&mut tx, version, now)
            .await?
            .ok_or(ServiceError::NotFound("rule set"))?;
        audit::append(
            &mut tx,
            &AuditDraft::new(p.actor(), "rules.activate")
                .before(json!({"version": previous}))
                .after(json!({"version": version, "approval": id, "residents_moved": a.residents})),
            now,
        )
        .await?;
    }
    let action = match (rules, approve) {
        (false, true) => "override.approve",
        (false, false) => "override.reject",
        (true, true) => "rules.approve",
        (true, false) => "rules.reject",
    };
    let mut draft = AuditDraft::new(p.actor(), action)
        .subject(format!("approval:{id}"))
        .before(json!({"status": "pending"}))
        .after(json!({"status": if approve { "approved" } else { "rejected" }, "colour": a.colour, "residents": a.residents, "requested_by": a.requested_by}));
    if let Some(r) = reason {
        draft = draft.reason(r);
    }
    audit::append(&mut tx, &draft, now).await?;
    tx.commit().await?;
    if rules {
        ctx.rules.invalidate();
    }
    overrides::approval(&ctx.db, id)
        .await?
        .map(view)
        .ok_or(ServiceError::NotFound("approval"))
}

pub async fn clear(
    ctx: &Ctx,
    p: &Principal,
    resident: ResidentId,
    override_id: Uuid,
) -> Result<()> {
    authz::authorize(p, Action::ManageOverrides)?;
    let r = residents::by_public_id(&ctx.db, resident.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    if !overrides::clear(&mut tx, r.id, override_id, &p.actor(), now).await? {
        return Err(ServiceError::NotFound("override"));
    }
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "override.clear")
            .subject(format!("resident:{resident}"))
            .before(json!({"override": override_id, "cleared": false}))
            .after(json!({"override": override_id, "cleared": true})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OverrideView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub approval_id: Uuid,
    pub colour: Colour,
    pub reason_code: String,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
    /// pending_approval, in_force, rejected, expired or cleared
    pub status: &'static str,
}

pub async fn of_resident(ctx: &Ctx, resident_id: i64) -> Result<Vec<OverrideView>> {
    let now = ctx.now();
    Ok(overrides::of_resident(&ctx.db, resident_id)
        .await?
        .into_iter()
        .map(|o| OverrideView {
            id: o.public_id,
            approval_id: o.approval_public_id,
            colour: o
                .colour
                .and_then(|c| Colour::from_code(i64::from(c)))
                .unwrap_or(Colour::Red),
            reason_code: o.reason_code,
            reason: o.reason_text,
            expires_at: o.expires_at.unwrap_or(now),
            status: match (o.status.as_str(), o.cleared_at) {
                (_, Some(_)) => "cleared",
                ("pending", _) => "pending_approval",
                ("rejected", _) => "rejected",
                _ if o.expires_at.is_none_or(|e| e <= now) => "expired",
                _ => "in_force",
            },
        })
        .collect())
}
