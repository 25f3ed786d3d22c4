//! Hazard reports.

use crate::domain::report::ReportForm;
use crate::http::errors::{ApiError, Problem};
use crate::http::scan;
use crate::service::reports::{self, ReportPatch, ReportQuery, Reported};
use crate::service::{Ctx, Principal};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

/// Report a hazard (residents): JSON `{location, category, text}`, or a multipart form with
/// the fields `lat`, `lon`, `category`, `text` and a JPEG/PNG `photo` (up to 10 MiB).
/// Categories: flooding, landslide, levee_breach, road_blocked, power_line, trapped_people, other.
#[utoipa::path(post, path = "/v1/reports", tag = "reports", security(("bearer" = [])), request_body = ReportForm,
    responses((status = 201, body = Reported), (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn submit(
    ctx: web::Data<Ctx>,
    p: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Who may report is known before a byte of the body is read.
    crate::service::authz::authorize(&p, crate::service::Action::ReadOwnProfile)?;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (form, photo): (ReportForm, Option<Vec<u8>>) = if multipart {
        let (fields, photo) = scan::multipart(&req, payload, "photo").await?;
        (scan::parse_form(serde_json::Value::Object(fields))?, photo)
    } else {
        (scan::json(payload).await?, None)
    };
    Ok(HttpResponse::Created().json(reports::submit(&ctx, &p, &form, photo.as_deref()).await?))
}

/// Hazard reports as GeoJSON, trapped people first, then newest (officials).
#[utoipa::path(get, path = "/v1/reports", tag = "reports", security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json", body = Object), (status = 403, body = Problem)))]
pub async fn list(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(reports::list(&ctx, &p, &q).await?))
}

/// Move a report on: new → verified → assigned → resolved, or dismissed (officials; audited).
#[utoipa::path(patch, path = "/v1/reports/{id}", tag = "reports", security(("bearer" = [])), request_body = ReportPatch,
    responses((status = 200, body = Reported), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    patch: web::Json<ReportPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(reports::update(&ctx, &p, *id, &patch).await?))
}

/// A report's photo (officials).
#[utoipa::path(get, path = "/v1/reports/{id}/photo", tag = "reports", security(("bearer" = [])),
    responses((status = 200, description = "JPEG or PNG"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn photo(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (bytes, kind) = reports::photo(&ctx, &p, *id).await?;
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(bytes))
}
