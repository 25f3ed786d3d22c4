//! The audit chain: its entries (filtered by who asks), its verification, its signed head.

use crate::http::errors::{ApiError, Problem};
use crate::service::audit::{self, EntryView, SignedHead, Verification};
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// e.g. `official:<uuid>`
    pub actor: Option<String>,
    /// e.g. `order.issue`
    pub action: Option<String>,
    /// e.g. `resident:<uuid>`
    pub subject: Option<String>,
    /// RFC 3339 time
    pub since: Option<DateTime<Utc>>,
    /// Return entries after this sequence number (paging).
    pub after_seq: Option<i64>,
    /// 1–1000, default 100.
    pub limit: Option<i64>,
}

/// The audit trail (officials and admins; a resident sees the entries about themselves).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = [EntryView]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let entries = audit::list(
        &ctx,
        &p,
        audit::Query {
            actor: q.actor,
            action: q.action,
            subject: q.subject,
            since: q.since,
            after_seq: q.after_seq,
            limit: q.limit,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(entries))
}

/// Recompute the whole hash chain and check it against the newest signed head: `{ok,
/// entries}` or the first broken link.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = Verification), (status = 403, body = Problem)))]
pub async fn verify(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(audit::verify(&ctx, &p).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadsForm {
    /// Signed heads kept outside the database: the `cose` of `GET /v1/audit/head`.
    pub heads: Vec<String>,
}

/// Check the chain against signed heads kept outside the database: a rewrite of any entry
/// they cover shows, even one whose hashes were all recomputed.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])), request_body = HeadsForm,
    responses((status = 200, body = Verification), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn verify_against(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<HeadsForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(audit::verify_against(&ctx, &p, &f.heads).await?))
}

/// The audit chain's newest head, signed with the service's key (public; signed at least
/// every minute). Keep copies: they prove later that nothing before them was rewritten.
#[utoipa::path(get, path = "/v1/audit/head", tag = "audit",
    responses((status = 200, body = SignedHead), (status = 404, body = Problem)))]
pub async fn head(ctx: web::Data<Ctx>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(audit::head(&ctx).await?))
}
