//! Desk phones: enrolment codes, enrolling, listing, renewing and revoking.

use crate::domain::UserId;
use crate::http::errors::{ApiError, Problem};
use crate::http::public_base;
use crate::service::devices::{self, EnrolForm, EnrolmentForm, RenewForm};
use crate::service::{Ctx, Principal, ServiceError};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrolmentBody {
    /// The link the QR code holds (`/scan#enrol=…`).
    pub url: String,
    pub qr_svg: String,
    pub expires_at: DateTime<Utc>,
}

/// Offer a desk enrolment for this shelter (official): a one-time QR code, valid 5 minutes.
#[utoipa::path(post, path = "/v1/shelters/{id}/enrolments", tag = "devices",
    security(("session" = []), ("bearer" = [])), request_body = EnrolmentForm,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 201, body = EnrolmentBody), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn offer(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    form: web::Json<EnrolmentForm>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let e = devices::start_enrolment(&ctx, &p, id.into_inner(), &form).await?;
    let url = e.url(&public_base(&ctx, &req));
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(EnrolmentBody {
            qr_svg: crate::qr::svg(&url).map_err(ServiceError::internal)?,
            url,
            expires_at: e.expires_at,
        }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceBody {
    /// This phone's credential: the page keeps it and sends it as a bearer token.
    pub token: String,
    #[schema(value_type = String, format = Uuid)]
    pub device_id: UserId,
    pub shelter_id: Uuid,
    pub name: String,
    pub expires_at: DateTime<Utc>,
}

/// Enrol this phone with a scanned enrolment code (no sign-in needed: the code is the proof).
#[utoipa::path(post, path = "/v1/devices/enrol", tag = "devices", request_body = EnrolForm,
    responses((status = 201, body = DeviceBody), (status = 409, body = Problem),
        (status = 429, body = Problem)))]
pub async fn enrol(
    ctx: web::Data<Ctx>,
    form: web::Json<EnrolForm>,
) -> Result<HttpResponse, ApiError> {
    let d = devices::enrol(&ctx, &form).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(DeviceBody {
            token: d.token,
            device_id: d.device,
            shelter_id: d.shelter,
            name: d.name,
            expires_at: d.expires_at,
        }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    pub name: String,
    pub enrolled_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The shelter's desk phones with their last use (official).
#[utoipa::path(get, path = "/v1/shelters/{id}/devices", tag = "devices",
    security(("session" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<DeviceView>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let rows = devices::list(&ctx, &p, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|d| DeviceView {
                id: d.public_id,
                name: d.name,
                enrolled_at: d.created_at,
                expires_at: d.expires_at,
                last_used_at: d.last_used_at,
                revoked_at: d.revoked_at,
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// Revoke every desk phone of the shelter (official).
#[utoipa::path(delete, path = "/v1/shelters/{id}/devices", tag = "devices",
    security(("session" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Revoked), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn revoke_all(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let revoked = devices::revoke(&ctx, &p, id.into_inner(), None).await?;
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}

/// Revoke one desk phone (official): it is signed out on its next request.
#[utoipa::path(delete, path = "/v1/shelters/{id}/devices/{device}", tag = "devices",
    security(("session" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("device" = String, Path, format = Uuid)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    ctx: web::Data<Ctx>,
    p: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (shelter, device) = path.into_inner();
    devices::revoke(&ctx, &p, shelter, Some(UserId(device))).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Renewed {
    pub expires_at: DateTime<Utc>,
}

/// Keep a desk phone signed in for longer (official).
#[utoipa::path(post, path = "/v1/shelters/{id}/devices/{device}/renew", tag = "devices",
    security(("session" = []), ("bearer" = [])), request_body = RenewForm,
    params(("id" = String, Path, format = Uuid), ("device" = String, Path, format = Uuid)),
    responses((status = 200, body = Renewed), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn renew(
    ctx: web::Data<Ctx>,
    p: Principal,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Json<RenewForm>,
) -> Result<HttpResponse, ApiError> {
    let (shelter, device) = path.into_inner();
    let expires_at = devices::renew(&ctx, &p, shelter, UserId(device), &form).await?;
    Ok(HttpResponse::Ok().json(Renewed { expires_at }))
}
