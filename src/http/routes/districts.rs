//! Districts: each has its own status list (DESIGN.md, "Status lists per district").

use crate::http::errors::{ApiError, Problem};
use crate::service::districts::{self, DistrictView};
use crate::service::zones::ZoneFeature;
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};

/// Draw a district (admins): a GeoJSON Feature (Polygon or MultiPolygon) with
/// `properties.name`. It takes the lowest free number (1-128), the one its residents' codes
/// carry. Sending the same district again answers it unchanged.
#[utoipa::path(post, path = "/v1/districts", tag = "offline", security(("bearer" = [])), request_body = ZoneFeature,
    responses((status = 201, body = DistrictView), (status = 200, body = DistrictView, description = "Already drawn, unchanged"),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<ZoneFeature>,
) -> Result<HttpResponse, ApiError> {
    let (view, created) = districts::create(&ctx, &p, &f).await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Every district with its number, name and area (staff, officials, admins).
#[utoipa::path(get, path = "/v1/districts", tag = "offline", security(("bearer" = [])),
    responses((status = 200, body = Vec<DistrictView>), (status = 403, body = Problem)))]
pub async fn list(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(districts::list(&ctx, &p).await?))
}
