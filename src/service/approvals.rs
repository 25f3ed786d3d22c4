//! What waits for a second official: overrides, an official's fact change that makes a colour
//! worse, clearing what two officials decided, upholding an appeal that clears an override,
//! and activating a rule set. One request table, one decision path, one rule for who counts
//! as a second person (see `docs/threat-model.md`, "Two people means two people").

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Colour, Location};
use crate::store::{self, audit, overrides, users};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The kinds of request, as stored.
pub mod kind {
    pub const OVERRIDE: &str = "override";
    pub const RULES: &str = "rules";
    pub const FACTS: &str = "facts";
    pub const CLEAR_OVERRIDE: &str = "clear_override";
    pub const APPEAL: &str = "appeal";
    pub const DUPLICATES: &str = "duplicates";
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `override` (a colour for residents), `rules` (activating a rule set version), `facts`
    /// (an official's change of a resident's facts that makes their colour worse),
    /// `clear_override` (clearing an override two officials put in force), `appeal`
    /// (upholding an appeal that clears such an override) or `duplicates` (retiring the other
    /// records that name a document, after an official took one back with the ID card).
    pub kind: String,
    pub status: String,
    pub colour: Option<Colour>,
    pub rule_version: Option<i64>,
    pub reason_code: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// Residents whose colour it changes.
    pub residents: i32,
    /// The resident a `facts`, `clear_override` or `appeal` request concerns.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub resident_id: Option<Uuid>,
    /// What would change: for `facts` the facts before and after and the colour it leads to
    /// (contact details only as "changed"); for `rules` the rules added, removed and changed
    /// and who would move.
    #[schema(value_type = Option<Object>)]
    pub change: Option<serde_json::Value>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

/// A request's stored payload: what is shown to the deciding official, and what is applied
/// when they approve (which may hold contact details, and is never shown).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub show: serde_json::Value,
    pub apply: serde_json::Value,
}

#[derive(Clone, Copy)]
enum Step {
    Requested,
    Approved,
    Rejected,
}

/// The audit trail's name for each step of each kind (the names earlier versions wrote for
/// overrides and rule sets are kept).
fn audit_action(kind: &str, step: Step) -> &'static str {
    match (kind, step) {
        (kind::RULES, Step::Requested) => "rules.activation_requested",
        (kind::RULES, Step::Approved) => "rules.approve",
        (kind::RULES, Step::Rejected) => "rules.reject",
        (kind::FACTS, Step::Requested) => "resident.update_requested",
        (kind::FACTS, Step::Approved) => "resident.update_approve",
        (kind::FACTS, Step::Rejected) => "resident.update_reject",
        (kind::CLEAR_OVERRIDE, Step::Requested) => "override.clear_requested",
        (kind::CLEAR_OVERRIDE, Step::Approved) => "override.clear_approve",
        (kind::CLEAR_OVERRIDE, Step::Rejected) => "override.clear_reject",
        (kind::APPEAL, Step::Requested) => "appeal.uphold_requested",
        (kind::APPEAL, Step::Approved) => "appeal.uphold_approve",
        (kind::APPEAL, Step::Rejected) => "appeal.uphold_reject",
        (kind::DUPLICATES, Step::Requested) => "resident.retire_requested",
        (kind::DUPLICATES, Step::Approved) => "resident.retire_approve",
        (kind::DUPLICATES, Step::Rejected) => "resident.retire_reject",
        (_, Step::Requested) => "override.request",
        (_, Step::Approved) => "override.approve",
        (_, Step::Rejected) => "override.reject",
    }
}

/// A change of one resident's facts waiting for a second official: what is applied on approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FactChange {
    /// `PATCH /v1/residents/{id}`, applied only to the record as it was when asked
    /// (`updated_at`).
    Patch {
        form: crate::domain::resident::ResidentPatchForm,
        updated_at: DateTime<Utc>,
    },
    /// An official's "reached by phone" record (`POST /v1/residents/{id}/safe`).
    Safety { form: super::safety::SafeForm },
}

/// The world changed since the request was made: the decider would approve something they
/// were not shown.
pub fn stale() -> ServiceError {
    ServiceError::Conflict {
        code: "stale_request",
        detail:
            "what this request would change has changed since it was made: reject it and ask again"
                .into(),
    }
}

pub fn view(a: overrides::ApprovalRow) -> ApprovalView {
    let change = a
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Payload>(p).ok())
        .map(|p| p.show);
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
        resident_id: a.resident_public_id,
        change,
        requested_by: a.requested_by,
        requested_at: a.requested_at,
        decided_by: a.decided_by,
        decided_at: a.decided_at,
        decision_reason: a.decision_reason,
    }
}

fn user_id(p: &Principal) -> Result<i64> {
    match p {
        Principal::User { internal, .. } => Ok(*internal),
        Principal::Resident { .. } => Err(ServiceError::Forbidden),
    }
}

/// A request about one resident, inside the caller's transaction (which also writes the
/// audit entry saying it was asked for).
pub struct ResidentRequest<'a> {
    pub kind: &'static str,
    pub resident: (i64, Uuid),
    pub colour: Option<Colour>,
    pub reason_code: &'a str,
    pub reason_text: &'a str,
    pub payload: Payload,
}

pub async fn request_for_resident(
    tx: &mut store::Tx,
    p: &Principal,
    r: ResidentRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid> {
    let public_id = Uuid::new_v4();
    let payload = serde_json::to_string(&r.payload).map_err(ServiceError::internal)?;
    overrides::insert_approval(
        tx,
        &overrides::NewRequest {
            public_id,
            kind: r.kind,
            colour: r.colour.map(|c| i32::from(c.code())),
            rule_version: None,
            reason_code: r.reason_code,
            reason_text: r.reason_text,
            expires_at: None,
            requested_by: &p.actor(),
            requester_id: user_id(p)?,
            resident_id: Some(r.resident.0),
            payload: Some(payload),
        },
        1,
        now,
    )
    .await?;
    audit::append(
        tx,
        &AuditDraft::new(p.actor(), audit_action(r.kind, Step::Requested))
            .subject(format!("resident:{}", r.resident.1))
            .after(json!({"approval": public_id, "status": "pending_approval", "colour": r.colour, "reason_code": r.reason_code})),
        now,
    )
    .await?;
    Ok(public_id)
}

pub async fn get(ctx: &Ctx, id: Uuid) -> Result<ApprovalView> {
    overrides::approval(&ctx.db, id)
        .await?
        .map(view)
        .ok_or(ServiceError::NotFound("approval"))
}

/// The requests the caller may decide or see: an official with a district sees only those
/// whose every resident lies inside it (and rule sets, which name no one).
pub async fn list(ctx: &Ctx, p: &Principal, status: Option<&str>) -> Result<Vec<ApprovalView>> {
    authz::authorize(p, Action::DecideApprovals)?;
    if let Some(s) = status
        && !["pending", "approved", "rejected"].contains(&s)
    {
        return Err(crate::domain::Invalid::new(
            "status",
            "invalid_status",
            "status is pending, approved or rejected",
        )
        .into());
    }
    let rows = overrides::approvals(&ctx.db, status).await?;
    let rows: Vec<_> = if p.role() == crate::domain::Role::Admin {
        // Admins decide rule sets only; requests about people are not theirs to read.
        rows.into_iter().filter(|a| a.kind == kind::RULES).collect()
    } else if authz::jurisdiction(p).is_some() {
        let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
        let mut outside = std::collections::HashSet::new();
        for (approval, lat, lon) in overrides::locations_of(&ctx.db, &ids).await? {
            if !authz::sees(p, Location::from_columns(lat, lon)) {
                outside.insert(approval);
            }
        }
        rows.into_iter()
            .filter(|a| !outside.contains(&a.id))
            .collect()
    } else {
        rows
    };
    Ok(rows.into_iter().map(view).collect())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionForm {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Two accounts are two people only when neither created (or reset the sign-in of) the other,
/// and the decider's account has existed, and kept its sign-in, for the cooling-off period
/// when another account created or reset it: whoever receives an account's setup link can
/// act as that account.
async fn ensure_independent(ctx: &Ctx, requester: i64, decider: i64) -> Result<()> {
    if requester == decider {
        return Err(ServiceError::SameOfficial);
    }
    let (r, d) = (
        users::provenance(&ctx.db, requester).await?,
        users::provenance(&ctx.db, decider).await?,
    );
    let (Some(r), Some(d)) = (r, d) else {
        return Err(ServiceError::NotFound("user"));
    };
    if r.created_by == Some(decider) || d.created_by == Some(requester) {
        return Err(ServiceError::NotIndependent(
            "the requester's account and yours were created one by the other",
        ));
    }
    if r.reset_by == Some(decider) || d.reset_by == Some(requester) {
        return Err(ServiceError::NotIndependent(
            "one of the two accounts had its sign-in reset by the other",
        ));
    }
    if d.created_by.is_some() && ctx.now() - d.created_at < ctx.approver_cooling_off {
        return Err(ServiceError::NotIndependent(
            "an account created by another decides nothing during its cooling-off period",
        ));
    }
    if let (Some(_), Some(at)) = (d.reset_by, d.reset_at)
        && ctx.now() - at < ctx.approver_cooling_off
    {
        return Err(ServiceError::NotIndependent(
            "an account whose sign-in another account reset decides nothing during its \
             cooling-off period",
        ));
    }
    Ok(())
}

/// Approves or rejects a pending request: a second, independent official (for rule sets,
/// one without a district, or an admin), who may see every resident it concerns.
pub async fn decide(
    ctx: &Ctx,
    p: &Principal,
    id: Uuid,
    approve: bool,
    form: &DecisionForm,
) -> Result<ApprovalView> {
    let decider_id = user_id(p)?;
    // Before the lookup: someone who may decide nothing must not learn which ids exist.
    authz::authorize(p, Action::DecideApprovals)?;
    let a = overrides::approval(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("approval"))?;
    if a.kind == kind::RULES {
        if !authz::is_province_level(p) {
            // A rule set applies everywhere: only someone without a district decides it.
            return Err(ServiceError::OutsideJurisdiction);
        }
    } else {
        authz::authorize(p, Action::ManageOverrides)?;
        for (_, lat, lon, _) in overrides::residents_of(&ctx.db, a.id).await? {
            authz::ensure_resident_in_jurisdiction(p, Location::from_columns(lat, lon))?;
        }
    }
    ensure_independent(ctx, a.requester_id, decider_id).await?;
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
    if approve {
        apply(&mut tx, &ctx.id_key, p, &a, now).await?;
        // An approved override, fact change or rule set may make colours worse.
        super::status_list::mark_urgent(&mut tx, now).await?;
    }
    let step = if approve {
        Step::Approved
    } else {
        Step::Rejected
    };
    let mut draft = AuditDraft::new(p.actor(), audit_action(&a.kind, step))
        .subject(format!("approval:{id}"))
        .before(json!({"status": "pending"}))
        .after(json!({"status": if approve { "approved" } else { "rejected" }, "colour": a.colour, "residents": a.residents, "requested_by": a.requested_by}));
    if let Some(r) = reason {
        draft = draft.reason(r);
    }
    audit::append(&mut tx, &draft, now).await?;
    tx.commit().await?;
    if a.kind == kind::RULES {
        ctx.rules.invalidate();
    }
    if approve && a.kind == kind::DUPLICATES {
        // The retired records' tokens are revoked: not to be honoured from this cache.
        ctx.principals.clear();
    }
    get(ctx, id).await
}

fn stored_payload(a: &overrides::ApprovalRow) -> Result<serde_json::Value> {
    a.payload
        .as_deref()
        .and_then(|p| serde_json::from_str::<Payload>(p).ok())
        .map(|p| p.apply)
        .ok_or_else(|| {
            ServiceError::Store(store::StoreError::Corrupt(format!(
                "{} approval without a readable payload",
                a.kind
            )))
        })
}

/// Carries out an approved request inside the decision's transaction.
async fn apply(
    tx: &mut store::Tx,
    id_key: &crate::keys::IdHashKey,
    p: &Principal,
    a: &overrides::ApprovalRow,
    now: DateTime<Utc>,
) -> Result<()> {
    let approved =
        json!({"approval": a.public_id, "requested_by": a.requested_by, "approved_by": p.actor()});
    match a.kind.as_str() {
        kind::RULES => {
            let version = a.rule_version.ok_or_else(|| {
                store::StoreError::Corrupt("rules approval without a version".into())
            })?;
            // The diff and preview were made against the rule set active then.
            let was_active = stored_payload(a)?["active_version"].as_i64();
            if was_active.is_some() && was_active != store::rules::active_version_tx(tx).await? {
                return Err(stale());
            }
            let previous = store::rules::activate(tx, version, now)
                .await?
                .ok_or(ServiceError::NotFound("rule set"))?;
            audit::append(
                tx,
                &AuditDraft::new(p.actor(), "rules.activate")
                    .before(json!({"version": previous}))
                    .after(json!({"version": version, "approval": a.public_id, "requested_by": a.requested_by, "residents_moved": a.residents})),
                now,
            )
            .await?;
        }
        kind::FACTS => {
            let resident = a.resident_id.ok_or_else(|| {
                store::StoreError::Corrupt("facts approval without a resident".into())
            })?;
            let change: FactChange = serde_json::from_value(stored_payload(a)?)
                .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
            match change {
                FactChange::Patch { form, updated_at } => {
                    super::residents::apply_approved(
                        tx, p, resident, &form, updated_at, approved, now,
                    )
                    .await?;
                }
                FactChange::Safety { form } => {
                    super::safety::apply_approved(tx, p, resident, &form, approved, now).await?;
                }
            }
        }
        kind::CLEAR_OVERRIDE => {
            let resident = a.resident_id.ok_or_else(|| {
                store::StoreError::Corrupt("clear approval without a resident".into())
            })?;
            let override_id: Uuid = serde_json::from_value(stored_payload(a)?["override"].clone())
                .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
            super::overrides::apply_clear(tx, p, resident, override_id, approved, now).await?;
        }
        kind::APPEAL => {
            let form: super::appeals::PendingUphold = serde_json::from_value(stored_payload(a)?)
                .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
            super::appeals::apply_uphold(tx, p, &form, approved, now).await?;
        }
        kind::DUPLICATES => {
            let change: super::reclaim::RetireOthers =
                serde_json::from_value(stored_payload(a)?)
                    .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
            super::reclaim::apply_retire(tx, id_key, p, &change, approved, now).await?;
        }
        _ => {} // an override is in force once its request is approved
    }
    Ok(())
}
