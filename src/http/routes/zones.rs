//! Zones (GeoJSON), their residents and counts, evacuation orders and incidents.

use crate::domain::{Colour, OrderLevel};
use crate::http::errors::{ApiError, Problem};
use crate::http::idempotency::IdempotencyKey;
use crate::service::orders::{
    self, AllClear, IncidentForm, IncidentView, OrderForm, OrderPreview, OrderView, PreviewForm,
};
use crate::service::zone_history::{self, ZoneHistory};
use crate::service::zones::{
    self, ZoneCollection, ZoneCreated, ZoneFeature, ZoneImpact, ZonePatch, ZoneResidents, ZoneView,
};
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include each zone's geometry (default true).
    pub geometry: Option<bool>,
}

/// Draw a zone: a GeoJSON Feature (Polygon or MultiPolygon) with `properties.name`.
#[utoipa::path(post, path = "/v1/zones", tag = "zones", security(("bearer" = [])), request_body = ZoneFeature,
    responses((status = 201, body = ZoneCreated), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<ZoneFeature>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(zones::create(&ctx, &p, &f).await?))
}

/// All zones as a GeoJSON FeatureCollection with live counts in each feature's properties.
#[utoipa::path(get, path = "/v1/zones", tag = "zones", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ZoneCollection, content_type = "application/geo+json"), (status = 403, body = Problem)))]
pub async fn list(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(zones::list(&ctx, &p, q.geometry.unwrap_or(true)).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DraftQuery {
    /// The order to preview over the drawing (default mandatory).
    pub level: Option<OrderLevel>,
}

/// What a drawn zone would do before it is saved: residents inside, how many an order would
/// turn red or yellow, how many need help to move. Validated as `POST /v1/zones` is; changes
/// nothing.
#[utoipa::path(post, path = "/v1/zones/preview", tag = "zones", security(("bearer" = [])), params(DraftQuery),
    request_body = ZoneFeature, responses((status = 200, body = ZoneImpact), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn preview_draft(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<DraftQuery>,
    f: web::Json<ZoneFeature>,
) -> Result<HttpResponse, ApiError> {
    let level = q.level.unwrap_or(OrderLevel::Mandatory);
    Ok(HttpResponse::Ok().json(zones::preview_draft(&ctx, &p, &f, level).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// 1–72, default 12.
    pub hours: Option<u32>,
}

/// Each zone's must move / sheltered / safe with relatives / not reached over the last hours.
#[utoipa::path(get, path = "/v1/zones/history", tag = "zones", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Vec<ZoneHistory>), (status = 403, body = Problem)))]
pub async fn history(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(zone_history::history(&ctx, &p, q.hours.unwrap_or(12)).await?))
}

#[utoipa::path(get, path = "/v1/zones/{id}", tag = "zones", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ZoneView, content_type = "application/geo+json"), (status = 404, body = Problem)))]
pub async fn get(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(zones::get(&ctx, &p, *id).await?))
}

/// Rename or redraw a zone; members are computed again.
#[utoipa::path(patch, path = "/v1/zones/{id}", tag = "zones", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = ZonePatch, responses((status = 200, body = ZoneView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ZonePatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(zones::update(&ctx, &p, *id, &body).await?))
}

/// Delete a zone with no order in force (lift its orders first).
#[utoipa::path(delete, path = "/v1/zones/{id}", tag = "zones", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    zones::delete(&ctx, &p, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResidentsQuery {
    pub colour: Option<Colour>,
    pub cursor: Option<String>,
    /// 1–1000, default 200.
    pub limit: Option<usize>,
}

/// The residents of a zone, by colour, for the transfer teams (personal data; audited).
#[utoipa::path(get, path = "/v1/zones/{id}/residents", tag = "zones", security(("bearer" = [])),
    params(("id" = String, Path), ResidentsQuery), responses((status = 200, body = ZoneResidents), (status = 404, body = Problem)))]
pub async fn residents(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    q: web::Query<ResidentsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = zones::residents(
        &ctx,
        &p,
        *id,
        q.colour,
        q.cursor.as_deref(),
        q.limit.unwrap_or(200),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Issue an evacuation order over a zone (one insert; colours follow at once).
/// Send an `Idempotency-Key` to make a retry safe: the same order again under the same key gets
/// the order issued first, never a second one that would outlive its lifting.
#[utoipa::path(post, path = "/v1/zones/{id}/orders", tag = "orders", security(("bearer" = [])), params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = OrderForm, responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn issue(
    ctx: web::Data<Ctx>,
    p: Principal,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    f: web::Json<OrderForm>,
) -> Result<HttpResponse, ApiError> {
    let key = key.get()?;
    Ok(HttpResponse::Created().json(orders::issue(&ctx, &p, *id, &f, key.as_deref()).await?))
}

/// How many residents an order would turn red, yellow or green; changes nothing.
#[utoipa::path(post, path = "/v1/zones/{id}/orders/preview", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = PreviewForm, responses((status = 200, body = OrderPreview), (status = 404, body = Problem)))]
pub async fn preview(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    f: web::Json<PreviewForm>,
) -> Result<HttpResponse, ApiError> {
    let level: OrderLevel = f.level;
    Ok(HttpResponse::Ok().json(orders::preview(&ctx, &p, *id, level).await?))
}

#[utoipa::path(post, path = "/v1/orders/{id}/lift", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn lift(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(orders::lift(&ctx, &p, *id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only orders in force now.
    pub active: Option<bool>,
}

#[utoipa::path(get, path = "/v1/orders", tag = "orders", security(("bearer" = [])), params(OrdersQuery),
    responses((status = 200, body = [OrderView])))]
pub async fn list_orders(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<OrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(orders::list(&ctx, &p, q.active.unwrap_or(false)).await?))
}

#[utoipa::path(post, path = "/v1/incidents", tag = "orders", security(("bearer" = [])), request_body = IncidentForm,
    responses((status = 201, body = IncidentView), (status = 422, body = Problem)))]
pub async fn open_incident(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<IncidentForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(orders::open_incident(&ctx, &p, &f).await?))
}

#[utoipa::path(get, path = "/v1/incidents", tag = "orders", security(("bearer" = [])), responses((status = 200, body = [IncidentView])))]
pub async fn incidents(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(orders::incidents(&ctx, &p).await?))
}

/// The all-clear: the incident's orders lift.
#[utoipa::path(post, path = "/v1/incidents/{id}/all-clear", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AllClear), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn all_clear(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(orders::all_clear(&ctx, &p, *id).await?))
}
