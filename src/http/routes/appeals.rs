//! Appeals: a resident contests their colour; officials decide.

use crate::http::errors::{ApiError, Problem};
use crate::service::appeals::{self, AppealForm, AppealView, DecisionForm};
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};
use uuid::Uuid;

/// Appeal your colour.
#[utoipa::path(post, path = "/v1/residents/me/appeals", tag = "appeals", security(("bearer" = [])), request_body = AppealForm,
    responses((status = 201, body = AppealView), (status = 422, body = Problem)))]
pub async fn appeal(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<AppealForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(appeals::appeal(&ctx, &p, &f).await?))
}

/// Your appeals and their decisions.
#[utoipa::path(get, path = "/v1/residents/me/appeals", tag = "appeals", security(("bearer" = [])),
    responses((status = 200, body = [AppealView])))]
pub async fn mine(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(appeals::mine(&ctx, &p).await?))
}

/// Appeals, open and overdue first (officials).
#[utoipa::path(get, path = "/v1/appeals", tag = "appeals", security(("bearer" = [])), responses((status = 200, body = [AppealView])))]
pub async fn list(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(appeals::list(&ctx, &p).await?))
}

#[utoipa::path(post, path = "/v1/appeals/{id}/decision", tag = "appeals", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = DecisionForm, responses((status = 200, body = AppealView),
        (status = 202, body = crate::service::approvals::ApprovalView, description = "upheld with overrides to clear that two officials put in force: waits for a second official"),
        (status = 409, body = Problem)))]
pub async fn decide(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    f: web::Json<DecisionForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(match appeals::decide(&ctx, &p, *id, &f).await? {
        appeals::Decided::Now(v) => HttpResponse::Ok().json(v),
        appeals::Decided::Pending(a) => HttpResponse::Accepted().json(a),
    })
}
