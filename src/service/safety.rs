//! "I am safe": at home or with relatives, said by the resident or recorded by an official
//! who reached them by phone. Being safe with relatives is a fact the rules read (under the
//! default rules it ends "transfer now" like a shelter does); either answer acknowledges the
//! resident's latest alert. Audited, so the status list follows.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::resident::SafeStatus;
use crate::domain::{AuditDraft, Colour, Invalid, Location, ResidentId};
use crate::store::{audit, residents, safety};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SafeForm {
    /// `at_home` or `with_relatives`.
    pub status: String,
    pub note: Option<String>,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Safe {
    pub status: String,
    pub reported_at: DateTime<Utc>,
    /// The alert this acknowledged, if the resident had one.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub acknowledged_alert: Option<Uuid>,
    /// The resident's colour now.
    pub colour: Colour,
}

/// The resident's own word.
pub async fn mine(ctx: &Ctx, p: &Principal, form: &SafeForm) -> Result<Safe> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id, internal } = p else {
        return Err(ServiceError::Forbidden);
    };
    record(ctx, *internal, id.0, &format!("resident:{}", id.0), form).await
}

/// What an official's record did: applied, or (it would make the colour worse, as "at home"
/// over "with relatives" under a mandatory order does) waiting for a second official.
#[derive(Debug, Clone)]
pub enum Recorded {
    Now(Safe),
    Pending(Box<super::approvals::ApprovalView>),
}

/// An official records it for a resident reached by phone (within their jurisdiction).
pub async fn for_resident(
    ctx: &Ctx,
    p: &Principal,
    id: ResidentId,
    form: &SafeForm,
) -> Result<Recorded> {
    authz::authorize(p, Action::UpdateResident)?;
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let rules = super::colour::active_rules(ctx).await?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let before = super::colour::facts_in_tx(&mut tx, r.id, now).await?;
    let safe = write(&mut tx, r.id, r.public_id, &p.actor(), form, json!({}), now).await?;
    let after = super::colour::facts_in_tx(&mut tx, r.id, now).await?;
    if !rules.worsens(&before, &after) {
        tx.commit().await?;
        return Ok(Recorded::Now(with_colour(ctx, r.id, safe).await?));
    }
    tx.rollback().await?;
    use super::approvals::{FactChange, Payload, ResidentRequest, kind, request_for_resident};
    let apply = serde_json::to_value(FactChange::Safety { form: form.clone() })
        .map_err(ServiceError::internal)?;
    let mut tx = ctx.db.begin().await?;
    let approval = request_for_resident(
        &mut tx,
        p,
        ResidentRequest {
            kind: kind::FACTS,
            resident: (r.id, r.public_id),
            colour: Some(rules.evaluate(&after).colour),
            reason_code: "safety_record",
            reason_text: "recorded by phone: a status that makes the colour worse",
            payload: Payload {
                show: json!({
                    "colour_before": rules.evaluate(&before).colour,
                    "colour_after": rules.evaluate(&after).colour,
                    "facts": {"safe": form.status},
                }),
                apply,
            },
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::Pending(Box::new(
        super::approvals::get(ctx, approval).await?,
    )))
}

/// Records an official's word a second official approved, inside the decision's transaction.
pub async fn apply_approved(
    tx: &mut crate::store::Tx,
    p: &Principal,
    resident: i64,
    form: &SafeForm,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let public = residents::public_id_of(tx, resident).await?;
    write(tx, resident, public, &p.actor(), form, approved, now).await?;
    Ok(())
}

async fn with_colour(ctx: &Ctx, internal: i64, mut safe: Safe) -> Result<Safe> {
    safe.colour = super::colour::verdict_of(ctx, internal)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?
        .colour;
    Ok(safe)
}

async fn record(ctx: &Ctx, internal: i64, public: Uuid, by: &str, form: &SafeForm) -> Result<Safe> {
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let safe = write(&mut tx, internal, public, by, form, json!({}), now).await?;
    tx.commit().await?;
    with_colour(ctx, internal, safe).await
}

/// Writes the record, acknowledges the latest alert and audits it, inside `tx`.
async fn write(
    tx: &mut crate::store::Tx,
    internal: i64,
    public: Uuid,
    by: &str,
    form: &SafeForm,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Safe> {
    let status = SafeStatus::parse(&form.status)?;
    let note = form
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(Invalid::new("note", "too_long", "note is at most 500 characters").into());
    }
    let location = form
        .location
        .map(|l| Location::parse(l.lat, l.lon))
        .transpose()?;
    safety::record(
        tx,
        &safety::SafetyRow {
            resident_id: internal,
            status: status.as_str(),
            note,
            lat: location.map(|l| l.lat),
            lon: location.map(|l| l.lon),
            by,
        },
        now,
    )
    .await?;
    let acknowledged_alert = safety::acknowledge_latest_alert(tx, internal, now).await?;
    // "At home" ends "safe with relatives": possibly red again, and the tablets must know.
    if status == SafeStatus::AtHome {
        super::status_list::mark_urgent(tx, now).await?;
    }
    let mut after = json!({"status": status.as_str(), "acknowledged_alert": acknowledged_alert});
    if let (Some(a), Some(o)) = (after.as_object_mut(), approved.as_object()) {
        a.extend(o.clone());
    }
    audit::append(
        tx,
        &AuditDraft::new(by.to_owned(), "resident.safe")
            .subject(format!("resident:{public}"))
            .after(after),
        now,
    )
    .await?;
    Ok(Safe {
        status: status.as_str().into(),
        reported_at: now,
        acknowledged_alert,
        colour: Colour::Green,
    })
}
