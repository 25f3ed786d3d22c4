//! Hazard reports: residents report what they see (a photo too), officials see them on a map
//! (trapped people first) and move them through verified → assigned → resolved or dismissed.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::report::{NewReport, ReportCategory, ReportForm, ReportStatus, photo_type};
use crate::domain::{AuditDraft, Invalid};
use crate::geo::Area;
use crate::store::{self, audit, reports, zones};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reported {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub status: String,
    /// Trapped people: handled first.
    pub urgent: bool,
}

/// A resident's report, with an optional JPEG or PNG photo.
pub async fn submit(
    ctx: &Ctx,
    p: &Principal,
    form: &ReportForm,
    photo: Option<&[u8]>,
) -> Result<Reported> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id: who, internal } = p else {
        return Err(ServiceError::Forbidden);
    };
    let r = NewReport::parse(form)?;
    let photo = match photo {
        Some(b) => Some((b, photo_type(b)?)),
        None => None,
    };
    let id = Uuid::new_v4();
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    reports::insert(
        &mut tx,
        &reports::NewReportRow {
            public_id: id,
            resident_id: *internal,
            category: r.category.as_str(),
            text: &r.text,
            lat: r.location.lat,
            lon: r.location.lon,
            urgent: r.category.urgent(),
            photo,
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(format!("resident:{}", who.0), "report.submit")
            .subject(format!("report:{id}"))
            .after(json!({"category": r.category.as_str(), "photo": photo.is_some()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Reported {
        id,
        status: ReportStatus::New.as_str().into(),
        urgent: r.category.urgent(),
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    /// Only reports inside this zone.
    #[param(value_type = Option<String>, format = Uuid)]
    pub zone_id: Option<Uuid>,
    /// Only reports made since then.
    pub since: Option<DateTime<Utc>>,
    /// Default 500, at most 5,000.
    pub limit: Option<i64>,
}

/// Reports as a GeoJSON FeatureCollection, urgent first, then newest (officials).
pub async fn list(ctx: &Ctx, p: &Principal, q: &ReportQuery) -> Result<serde_json::Value> {
    authz::authorize(p, Action::ManageReports)?;
    let status = q.status.as_deref().map(ReportStatus::parse).transpose()?;
    let category = q
        .category
        .as_deref()
        .map(ReportCategory::parse)
        .transpose()?;
    let area = match q.zone_id {
        Some(z) => {
            let row = zones::get(&ctx.db, z)
                .await?
                .ok_or(ServiceError::NotFound("zone"))?;
            Some(
                Area::from_geometry(&row.geometry.0)
                    .map_err(|e| store::StoreError::Corrupt(e.to_string()))?,
            )
        }
        None => None,
    };
    let rows = reports::list(
        &ctx.db,
        &reports::Filter {
            status: status.map(|s| s.as_str()),
            category: category.map(|c| c.as_str()),
            since: q.since,
            // With a district, only its box is read (then its shape is checked below).
            bbox: area
                .as_ref()
                .or(authz::jurisdiction(p).map(|j| j.area()))
                .map(|a| {
                    (
                        a.bbox.min().x,
                        a.bbox.min().y,
                        a.bbox.max().x,
                        a.bbox.max().y,
                    )
                }),
            limit: q.limit.unwrap_or(500).clamp(1, 5000),
        },
    )
    .await?;
    let features: Vec<serde_json::Value> = rows
        .into_iter()
        .filter(|r| {
            let at = crate::domain::Location {
                lat: r.lat,
                lon: r.lon,
            };
            area.as_ref().is_none_or(|a| a.contains(at)) && authz::sees(p, Some(at))
        })
        .map(|r| {
            json!({
                "type": "Feature",
                "id": r.public_id,
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    "category": r.category, "text": r.text, "status": r.status,
                    "urgent": r.urgent, "note": r.note, "has_photo": r.has_photo,
                    "created_at": r.created_at, "updated_at": r.updated_at,
                },
            })
        })
        .collect();
    Ok(json!({"type": "FeatureCollection", "features": features}))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportPatch {
    pub status: String,
    pub note: Option<String>,
}

/// Moves a report on (officials; audited). A move the workflow does not allow is a 422.
pub async fn update(ctx: &Ctx, p: &Principal, id: Uuid, patch: &ReportPatch) -> Result<Reported> {
    authz::authorize(p, Action::ManageReports)?;
    let next = ReportStatus::parse(&patch.status)?;
    let note = patch.note.as_deref().map(str::trim);
    if note.is_some_and(|n| n.chars().count() > 2000) {
        return Err(Invalid::new("note", "too_long", "note is at most 2000 characters").into());
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let r = reports::get_tx(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("report"))?;
    authz::ensure_resident_in_jurisdiction(
        p,
        Some(crate::domain::Location {
            lat: r.lat,
            lon: r.lon,
        }),
    )?;
    let from = ReportStatus::parse(&r.status)
        .map_err(|_| store::StoreError::Corrupt("report status".into()))?;
    if !from.may_become(next) {
        return Err(Invalid::new(
            "status",
            "invalid_transition",
            format!("a {} report cannot become {}", from.as_str(), next.as_str()),
        )
        .into());
    }
    if !reports::set_status(&mut tx, id, from.as_str(), next.as_str(), note, now).await? {
        return Err(ServiceError::Conflict {
            code: "changed",
            detail: "someone else changed this report; read it again".into(),
        });
    }
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "report.status")
            .subject(format!("report:{id}"))
            .before(json!({"status": from.as_str()}))
            .after(json!({"status": next.as_str()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Reported {
        id,
        status: next.as_str().into(),
        urgent: r.urgent,
    })
}

/// A report's photo (officials).
pub async fn photo(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<(Vec<u8>, String)> {
    authz::authorize(p, Action::ManageReports)?;
    let photo = reports::photo(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("report"))?;
    authz::ensure_resident_in_jurisdiction(
        p,
        Some(crate::domain::Location {
            lat: photo.lat,
            lon: photo.lon,
        }),
    )?;
    photo.photo.ok_or(ServiceError::NotFound("photo"))
}
