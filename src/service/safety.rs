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

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
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

/// An official records it for a resident reached by phone (within their jurisdiction).
pub async fn for_resident(
    ctx: &Ctx,
    p: &Principal,
    id: ResidentId,
    form: &SafeForm,
) -> Result<Safe> {
    authz::authorize(p, Action::UpdateResident)?;
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    record(ctx, r.id, r.public_id, &p.actor(), form).await
}

async fn record(ctx: &Ctx, internal: i64, public: Uuid, by: &str, form: &SafeForm) -> Result<Safe> {
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
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    safety::record(
        &mut tx,
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
    let acknowledged_alert = safety::acknowledge_latest_alert(&mut tx, internal, now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(by.to_owned(), "resident.safe")
            .subject(format!("resident:{public}"))
            .after(json!({"status": status.as_str(), "acknowledged_alert": acknowledged_alert})),
        now,
    )
    .await?;
    tx.commit().await?;
    let colour = super::colour::verdict_of(ctx, internal)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?
        .colour;
    Ok(Safe {
        status: status.as_str().into(),
        reported_at: now,
        acknowledged_alert,
        colour,
    })
}
