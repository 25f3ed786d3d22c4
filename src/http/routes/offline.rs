//! What a verifier needs to work with no network: the signed status list and the bundle.

use crate::http::errors::{ApiError, Problem};
use crate::service::status_list::{self, BundleView};
use crate::service::{Ctx, Principal};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The signed status list (COSE_Sign1, `application/cose`): every resident's current colour
/// on their status index. Public: it names no one. Revalidate with `If-None-Match`.
#[utoipa::path(get, path = "/v1/status-list", tag = "offline",
    responses((status = 200, description = "COSE_Sign1 bytes", content_type = "application/cose"),
              (status = 304, description = "Not modified")))]
pub async fn status_list(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let list = status_list::current(&ctx).await?;
    let etag = format!("\"sl-{}\"", list.epoch);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    Ok(if unchanged {
        res.finish()
    } else {
        res.content_type("application/cose; cose-type=\"cose-sign1\"")
            .body(list.body.as_ref().clone())
    })
}

/// The verifier bundle (staff, officials): keys, status list, rule-set version, server time
/// and the maximum age a verifier accepts. Schema: docs/offline.md.
#[utoipa::path(get, path = "/v1/verifier/bundle", tag = "offline", security(("bearer" = [])),
    responses((status = 200, body = BundleView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn bundle(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(status_list::bundle(&ctx, &p).await?))
}
