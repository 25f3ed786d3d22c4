//! Individual colour overrides and everything that waits for a second official.

use crate::domain::ResidentId;
use crate::http::body::OptionalJson;
use crate::http::errors::{ApiError, Problem};
use crate::service::approvals::{self, ApprovalView, DecisionForm};
use crate::service::overrides::{self, BulkOverrideForm, OverrideForm, OverrideRequested};
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

/// Ask for a colour override for one resident; in force only after a second official approves.
#[utoipa::path(post, path = "/v1/residents/{id}/overrides", tag = "overrides", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = OverrideForm,
    responses((status = 201, body = OverrideRequested), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn request(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    f: web::Json<OverrideForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(overrides::request_one(&ctx, &p, ResidentId(*id), &f).await?))
}

/// The same for a list of residents: one approval covers them all.
#[utoipa::path(post, path = "/v1/overrides/bulk", tag = "overrides", security(("bearer" = [])), request_body = BulkOverrideForm,
    responses((status = 201, body = OverrideRequested), (status = 422, body = Problem)))]
pub async fn request_bulk(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<BulkOverrideForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(overrides::request_bulk(&ctx, &p, &f).await?))
}

/// Clear an override: 204 at once for one still waiting for approval; 202 with a request a
/// second official must approve for one two officials put in force.
#[utoipa::path(delete, path = "/v1/residents/{id}/overrides/{oid}", tag = "overrides", security(("bearer" = [])),
    params(("id" = String, Path), ("oid" = String, Path)),
    responses((status = 204), (status = 202, body = ApprovalView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn clear(
    ctx: web::Data<Ctx>,
    p: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, oid) = path.into_inner();
    Ok(
        match overrides::clear(&ctx, &p, ResidentId(id), oid).await? {
            overrides::Cleared::Now => HttpResponse::NoContent().finish(),
            overrides::Cleared::Pending(a) => HttpResponse::Accepted().json(a),
        },
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    /// pending, approved or rejected
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/approvals", tag = "overrides", security(("bearer" = [])), params(ApprovalsQuery),
    responses((status = 200, body = [ApprovalView])))]
pub async fn approvals(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<ApprovalsQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(approvals::list(&ctx, &p, q.status.as_deref()).await?))
}

fn form(body: OptionalJson<DecisionForm>) -> DecisionForm {
    body.0.unwrap_or_default()
}

/// Approve (a different official than the requester).
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "overrides", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApprovalView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn approve(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    body: OptionalJson<DecisionForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(approvals::decide(&ctx, &p, *id, true, &form(body)).await?))
}

#[utoipa::path(post, path = "/v1/approvals/{id}/reject", tag = "overrides", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApprovalView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn reject(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    body: OptionalJson<DecisionForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(approvals::decide(&ctx, &p, *id, false, &form(body)).await?))
}
