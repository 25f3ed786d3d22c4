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
            resident_id: match targets.as_slice() {
                [(one, _)] => Some(*one),
                _ => None,
            },
            payload: None,
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

/// What clearing an override did: cleared at once (it was only a request), or waits for a
/// second official (two officials put it in force; one does not take it away).
#[derive(Debug, Clone)]
pub enum Cleared {
    Now,
    Pending(Box<super::approvals::ApprovalView>),
}

pub async fn clear(
    ctx: &Ctx,
    p: &Principal,
    resident: ResidentId,
    override_id: Uuid,
) -> Result<Cleared> {
    authz::authorize(p, Action::ManageOverrides)?;
    let r = residents::by_public_id(&ctx.db, resident.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let approved = overrides::approved_override(&ctx.db, r.id, override_id)
        .await?
        .ok_or(ServiceError::NotFound("override"))?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    if approved {
        use super::approvals::{Payload, ResidentRequest, kind, request_for_resident};
        let id = request_for_resident(
            &mut tx,
            p,
            ResidentRequest {
                kind: kind::CLEAR_OVERRIDE,
                resident: (r.id, r.public_id),
                colour: None,
                reason_code: "clear_override",
                reason_text: "clear an override two officials put in force",
                payload: Payload {
                    show: json!({"override": override_id}),
                    apply: json!({"override": override_id}),
                },
            },
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(Cleared::Pending(Box::new(
            super::approvals::get(ctx, id).await?,
        )));
    }
    apply_clear(&mut tx, p, r.id, override_id, json!({}), now).await?;
    tx.commit().await?;
    Ok(Cleared::Now)
}

/// Clears one override inside `tx`, with its audit entry (`approved` names the request and
/// both officials when a second one approved it).
pub async fn apply_clear(
    tx: &mut crate::store::Tx,
    p: &Principal,
    resident_internal: i64,
    override_id: Uuid,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    if !overrides::clear(tx, resident_internal, override_id, &p.actor(), now).await? {
        return Err(ServiceError::Conflict {
            code: "already_cleared",
            detail: "this override is no longer in force".into(),
        });
    }
    let resident = residents::public_id_of(tx, resident_internal).await?;
    let mut after = json!({"override": override_id, "cleared": true});
    if let (Some(a), Some(o)) = (after.as_object_mut(), approved.as_object()) {
        a.extend(o.clone());
    }
    audit::append(
        tx,
        &AuditDraft::new(p.actor(), "override.clear")
            .subject(format!("resident:{resident}"))
            .before(json!({"override": override_id, "cleared": false}))
            .after(after),
        now,
    )
    .await?;
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
