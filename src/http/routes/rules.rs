//! The rule set: read it, preview a draft's effect, propose, activate and roll back.

use crate::http::errors::{ApiError, Problem};
use crate::rules::RuleSetDoc;
use crate::service::rules::{self, RuleSetView, RulesPreview};
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};

#[utoipa::path(get, path = "/v1/rules", tag = "rules", security(("bearer" = [])), responses((status = 200, body = [RuleSetView])))]
pub async fn list(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(rules::list(&ctx, &p).await?))
}

/// Store a new rule set version (validated; not active until activated).
#[utoipa::path(post, path = "/v1/rules", tag = "rules", security(("bearer" = [])), request_body = RuleSetDoc,
    responses((status = 201, body = RuleSetView), (status = 422, body = Problem)))]
pub async fn create(
    ctx: web::Data<Ctx>,
    p: Principal,
    doc: web::Json<RuleSetDoc>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(rules::create(&ctx, &p, doc.into_inner()).await?))
}

/// How many residents a candidate rule set would move, by from → to.
#[utoipa::path(post, path = "/v1/rules/preview", tag = "rules", security(("bearer" = [])), request_body = RuleSetDoc,
    responses((status = 200, body = RulesPreview), (status = 422, body = Problem)))]
pub async fn preview(
    ctx: web::Data<Ctx>,
    p: Principal,
    doc: web::Json<RuleSetDoc>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(rules::preview(&ctx, &p, doc.into_inner()).await?))
}

/// Propose activating a version (or rolling back to an older one): always 202 with the
/// approval a second official (without a district) or admin must give; only officials
/// without a district and admins may propose.
#[utoipa::path(post, path = "/v1/rules/{version}/activate", tag = "rules", security(("bearer" = [])), params(("version" = i64, Path)),
    responses((status = 202, body = crate::service::approvals::ApprovalView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn activate(
    ctx: web::Data<Ctx>,
    p: Principal,
    version: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Accepted().json(rules::activate(&ctx, &p, *version).await?))
}
