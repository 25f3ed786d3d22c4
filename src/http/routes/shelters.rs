//! Shelters, admissions, check-outs, occupants, relief items and distributions.

use crate::domain::Location;
use crate::domain::shelter::{CheckoutReason, ReliefItemForm, ShelterForm, ShelterPatchForm};
use crate::http::csv_export;
use crate::http::desk::{Desk, DeskForm};
use crate::http::errors::{ApiError, Problem};
use crate::service::relief::{self, Distributions, GiveRequest, Given, ReliefItem};
use crate::service::shelters::{
    self, Admission, CheckinRequest, Checkout, Leaving, Occupants, ShelterPlaces, ShelterView,
};
use crate::service::{Ctx, Principal, ServiceError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

/// Open a shelter (official).
#[utoipa::path(post, path = "/v1/shelters", tag = "shelters", security(("bearer" = [])), request_body = ShelterForm,
    responses((status = 201, body = ShelterView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<ShelterForm>,
) -> Result<HttpResponse, ApiError> {
    let s = shelters::create(&ctx, &p, &form).await?;
    Ok(HttpResponse::Created().json(s))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// With `lon`: sort nearest first and give each shelter's distance.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// With a point: only shelters this near.
    pub within_km: Option<f64>,
}

/// Shelters with occupancy, free places and red residents admitted today; nearest first from
/// `lat`,`lon` when given. Any signed-in user (residents look for the nearest).
#[utoipa::path(get, path = "/v1/shelters", tag = "shelters", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = [ShelterView]), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let near = match (q.lat, q.lon) {
        (Some(lat), Some(lon)) => Some(Location::parse(lat, lon).map_err(ServiceError::from)?),
        (None, None) => None,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_location",
                "give both lat and lon, or neither",
            ));
        }
    };
    if q.within_km.is_some_and(|d| !d.is_finite() || d <= 0.0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_distance",
            "within_km must be a positive number",
        ));
    }
    Ok(HttpResponse::Ok().json(shelters::list(&ctx, &p, near, q.within_km).await?))
}

/// Open shelters with free places: names, places, free places and accessibility only. Public:
/// the resident page shows the nearest, sorted on the phone.
#[utoipa::path(get, path = "/v1/shelters/open", tag = "shelters",
    responses((status = 200, body = [ShelterPlaces])))]
pub async fn open(ctx: web::Data<Ctx>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .json(shelters::open_places(&ctx).await?))
}

#[utoipa::path(get, path = "/v1/shelters/{id}", tag = "shelters", security(("bearer" = [])),
    responses((status = 200, body = ShelterView), (status = 404, body = Problem)))]
pub async fn get(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(shelters::get(&ctx, &p, *id).await?))
}

/// Change a shelter (official): name, capacity (lowering below occupancy is allowed and shown
/// as `over_capacity`; admissions then wait), status `open`/`closed`, accessibility.
#[utoipa::path(patch, path = "/v1/shelters/{id}", tag = "shelters", security(("bearer" = [])), request_body = ShelterPatchForm,
    responses((status = 200, body = ShelterView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn patch(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    form: web::Json<ShelterPatchForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(shelters::patch(&ctx, &p, *id, &form).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinForm {
    pub token: String,
    /// Admit the head's dependents with them, in one go.
    #[serde(default)]
    pub include_dependents: bool,
    pub idempotency_key: Option<String>,
}

impl DeskForm for CheckinForm {
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

/// Admit the holder of a code: JSON `{token}` or a multipart photo in field `image`. Staff of
/// this shelter or officials. 409 `shelter_full` (with `nearest_shelters`) or
/// `already_sheltered` (with `sheltered_at`); 422 with the verifier's code for a bad code.
#[utoipa::path(post, path = "/v1/shelters/{id}/checkins", tag = "shelters", security(("bearer" = [])), request_body = CheckinForm,
    params(("id" = String, Path, format = Uuid), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Admission), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn checkin(d: Desk<CheckinForm>) -> Result<HttpResponse, ApiError> {
    let a = shelters::checkin(
        &d.ctx,
        &d.principal,
        d.shelter,
        &CheckinRequest {
            token: &d.form.token,
            include_dependents: d.form.include_dependents,
            idempotency_key: d.key.as_deref(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(a))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutForm {
    /// The resident's code, or give `stay_id`.
    pub token: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub stay_id: Option<Uuid>,
    /// returned_home, moved_to_relatives, transferred, hospital
    pub reason: String,
    /// With `transferred`: the shelter they go to.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub to_shelter_id: Option<Uuid>,
    /// A retry with the same key is answered with the first answer and changes nothing
    /// (or send an `Idempotency-Key` header).
    pub idempotency_key: Option<String>,
}

impl DeskForm for CheckoutForm {
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

/// Check someone out of this shelter (by code, photo or `stay_id`); the place is given back.
#[utoipa::path(post, path = "/v1/shelters/{id}/checkouts", tag = "shelters", security(("bearer" = [])), request_body = CheckoutForm,
    params(("id" = String, Path, format = Uuid), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Checkout), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn checkout(d: Desk<CheckoutForm>) -> Result<HttpResponse, ApiError> {
    let form = &d.form;
    let reason = CheckoutReason::parse(&form.reason).map_err(ServiceError::from)?;
    let who = match (&form.token, form.stay_id) {
        (Some(t), None) => Leaving::Token(t),
        (None, Some(s)) => Leaving::Stay(s),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "give either token (or a photo) or stay_id",
            ));
        }
    };
    let out = shelters::checkout(
        &d.ctx,
        &d.principal,
        d.shelter,
        who,
        reason,
        form.to_shelter_id,
        d.key.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// Who is in this shelter now, with needs and since when (staff of this shelter, officials).
#[utoipa::path(get, path = "/v1/shelters/{id}/occupants", tag = "shelters", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Occupants), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn occupants(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let o =
        shelters::occupants(&ctx, &p, *id, q.after.unwrap_or(0), q.limit.unwrap_or(200)).await?;
    Ok(HttpResponse::Ok().json(o))
}

/// Define a relief item with its daily quota per person or household (official).
#[utoipa::path(post, path = "/v1/relief-items", tag = "relief", security(("bearer" = [])), request_body = ReliefItemForm,
    responses((status = 201, body = ReliefItem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_item(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<ReliefItemForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(relief::create_item(&ctx, &p, &form).await?))
}

#[utoipa::path(get, path = "/v1/relief-items", tag = "relief", security(("bearer" = [])),
    responses((status = 200, body = [ReliefItem]), (status = 403, body = Problem)))]
pub async fn items(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(relief::items(&ctx, &p).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveForm {
    pub token: String,
    #[schema(value_type = String, format = Uuid)]
    pub item_id: Uuid,
    pub quantity: i64,
    pub idempotency_key: Option<String>,
}

impl DeskForm for GiveForm {
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

/// Hand out relief to the holder of a code (or photo), within the item's daily quota across
/// all shelters. 409 `quota_exceeded` with `remaining`.
#[utoipa::path(post, path = "/v1/shelters/{id}/distributions", tag = "relief", security(("bearer" = [])), request_body = GiveForm,
    params(("id" = String, Path, format = Uuid), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Given), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn give(d: Desk<GiveForm>) -> Result<HttpResponse, ApiError> {
    let g = relief::give(
        &d.ctx,
        &d.principal,
        d.shelter,
        &GiveRequest {
            token: &d.form.token,
            item: d.form.item_id,
            quantity: d.form.quantity,
            idempotency_key: d.key.as_deref(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(g))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// A local day, `YYYY-MM-DD` (today by default).
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<chrono::NaiveDate>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// The day's distributions at this shelter: JSON pages, or the whole day as CSV for the
/// report (`Accept: text/csv`).
#[utoipa::path(get, path = "/v1/shelters/{id}/distributions", tag = "relief", security(("bearer" = [])), params(DayQuery),
    responses((status = 200, body = Distributions), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn distributions(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    q: web::Query<DayQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !csv_export::wanted(&req) {
        let d = relief::of_day(
            &ctx,
            &p,
            *id,
            q.date,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(500),
        )
        .await?;
        return Ok(HttpResponse::Ok().json(d));
    }
    let mut out = csv_export::Csv::new(&[
        "given_at",
        "item",
        "unit",
        "quantity",
        "resident_id",
        "given_by",
        "distribution_id",
    ])?;
    let mut after = 0;
    let day = q
        .date
        .unwrap_or_else(|| crate::domain::shelter::local_day(ctx.now()));
    loop {
        let page = relief::of_day(&ctx, &p, *id, Some(day), after, 10_000).await?;
        for d in &page.distributions {
            out.row([
                d.given_at.to_rfc3339(),
                d.item.clone(),
                d.unit.clone(),
                d.quantity.to_string(),
                d.resident_id.map(|r| r.to_string()).unwrap_or_default(),
                d.given_by.to_string(),
                d.id.to_string(),
            ])?;
        }
        match page.next {
            Some(n) => after = n,
            None => break,
        }
    }
    let name = format!("attachment; filename=\"distributions-{day}.csv\"");
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, name))
        .body(out.into_bytes()?))
}
