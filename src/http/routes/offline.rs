//! What a verifier needs to work with no network: the signed status list and the bundle.

use crate::domain::{DistrictId, Invalid};
use crate::http::body::OptionalJson;
use crate::http::errors::{ApiError, Problem};
use crate::service::status_list::{self, BundleView};
use crate::service::sync::{self, ConflictView, SyncBatch, SyncReport};
use crate::service::{Ctx, Principal};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A district's list (1-128); without it, the default list (codes without a district).
    pub district: Option<i64>,
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BundleQuery {
    /// The districts whose lists to carry besides the caller's own shelters' (comma-separated
    /// numbers, at most 16 in all), e.g. `3,5`.
    pub districts: Option<String>,
}

fn district_param(n: i64) -> Result<DistrictId, ApiError> {
    DistrictId::new(n).ok_or_else(|| {
        ApiError::from(crate::service::ServiceError::from(Invalid::new(
            "district",
            "invalid_district",
            "a district is a number from 1 to 128",
        )))
    })
}

/// The signed status list (COSE_Sign1, `application/cose`): every resident's current colour
/// on their status slot, of the default list or one district's. Public: it names no one.
/// Revalidate with `If-None-Match`.
#[utoipa::path(get, path = "/v1/status-list", tag = "offline", params(ListQuery),
    responses((status = 200, description = "COSE_Sign1 bytes", content_type = "application/cose"),
              (status = 304, description = "Not modified"),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn status_list(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let district = q.district.map(district_param).transpose()?;
    if let Some(d) = district
        && !crate::service::districts::exists(&ctx, d).await?
    {
        return Err(crate::service::ServiceError::NotFound("district").into());
    }
    let list = status_list::current(&ctx, district).await?;
    let etag = format!(
        "\"sl-{}-{}\"",
        district.map_or(0, DistrictId::get),
        list.epoch
    );
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
#[utoipa::path(get, path = "/v1/verifier/bundle", tag = "offline", security(("bearer" = [])), params(BundleQuery),
    responses((status = 200, body = BundleView), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn bundle(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<BundleQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut districts = Vec::new();
    for part in q.districts.as_deref().unwrap_or("").split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        // More than a bundle can carry is refused before anything is parsed further.
        if districts.len() > status_list::MAX_BUNDLE_DISTRICTS {
            break;
        }
        districts.push(district_param(part.parse::<i64>().unwrap_or(0))?);
    }
    Ok(HttpResponse::Ok().json(status_list::bundle(&ctx, &p, &districts).await?))
}

/// Upload events recorded offline at this shelter (staff of this shelter, officials): each
/// applied once, in device-time order per resident; answered one by one as `applied`,
/// `duplicate` or `conflict` (kept for officials). At most 10,000 events per upload.
#[utoipa::path(post, path = "/v1/shelters/{id}/sync", tag = "offline", security(("bearer" = [])),
    request_body = SyncBatch,
    responses((status = 200, body = SyncReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn sync(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    body: OptionalJson<SyncBatch>,
) -> Result<HttpResponse, ApiError> {
    crate::service::shelters::ensure_may_act(&ctx, &p, *id).await?;
    let batch = body.0.ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "missing_body",
            "send {\"events\": [...]}",
        )
    })?;
    Ok(HttpResponse::Ok().json(sync::sync(&ctx, &p, *id, &batch).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConflictQuery {
    /// Only this shelter's.
    #[param(value_type = Option<String>, format = Uuid)]
    pub shelter_id: Option<Uuid>,
    /// Page: conflicts with a smaller id than this.
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// Offline events that could not be applied, newest first (officials).
#[utoipa::path(get, path = "/v1/sync/conflicts", tag = "offline", security(("bearer" = [])), params(ConflictQuery),
    responses((status = 200, body = Vec<ConflictView>), (status = 403, body = Problem)))]
pub async fn conflicts(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<ConflictQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(sync::conflicts(&ctx, &p, q.shelter_id, q.before, q.limit).await?))
}
