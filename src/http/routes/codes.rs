//! Codes: a resident's own (JSON, PNG, SVG), an official's printed card, and online
//! verification by token or photo.

use crate::domain::ResidentId;
use crate::http::errors::{ApiError, Problem};
use crate::http::metrics::Metrics;
use crate::qr;
use crate::service::codes::{self, Issued, Verification};
use crate::service::{Ctx, Principal};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Png,
    Svg,
    Card,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MyCodeQuery {
    /// json (default), png or svg
    pub format: Option<Format>,
    /// A dependent's id, for their code.
    pub resident_id: Option<Uuid>,
    /// PNG pixels per module, 1–32 (default 8).
    pub scale: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// json (default), png, svg or card (a printable SVG card)
    pub format: Option<Format>,
    /// A long-lived code to print, for people without phones.
    pub printed: Option<bool>,
    pub scale: Option<u32>,
}

fn render(
    issued: Issued,
    format: Format,
    scale: u32,
    metrics: &Metrics,
) -> Result<HttpResponse, ApiError> {
    let too_long = |_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the code does not fit a QR code",
        )
    };
    let name = match format {
        Format::Json => "json",
        Format::Png => "png",
        Format::Svg => "svg",
        Format::Card => "card",
    };
    metrics.code_issued(name);
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(issued),
        Format::Png => HttpResponse::Ok()
            .content_type("image/png")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(qr::png(&issued.token, scale).map_err(too_long)?),
        Format::Svg => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(qr::svg(&issued.token).map_err(too_long)?),
        Format::Card => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(
                qr::card::svg(
                    &issued.token,
                    issued.colour,
                    &issued.display,
                    issued.issued_at,
                    issued.expires_at,
                )
                .map_err(too_long)?,
            ),
    })
}

/// Your code (or a dependent's with `resident_id`), as JSON, PNG or SVG. A new code each time.
#[utoipa::path(get, path = "/v1/residents/me/code", tag = "codes", security(("bearer" = [])), params(MyCodeQuery),
    responses((status = 200, body = Issued), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn mine(
    ctx: web::Data<Ctx>,
    m: web::Data<Metrics>,
    p: Principal,
    q: web::Query<MyCodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = q.format.unwrap_or(Format::Json);
    if format == Format::Card {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_format",
            "cards are printed by officials",
        ));
    }
    let issued = codes::mine(&ctx, &p, q.resident_id.map(ResidentId)).await?;
    render(issued, format, q.scale.unwrap_or(8), &m)
}

/// A resident's code (officials): `printed=true` for a season-long code to print, `format=card`
/// for a printable card.
#[utoipa::path(get, path = "/v1/residents/{id}/code", tag = "codes", security(("bearer" = [])),
    params(("id" = String, Path), CodeQuery), responses((status = 200, body = Issued), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn for_resident(
    ctx: web::Data<Ctx>,
    m: web::Data<Metrics>,
    p: Principal,
    id: web::Path<Uuid>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let printed = q.printed.unwrap_or(false);
    let issued = codes::for_resident(
        &ctx,
        &p,
        ResidentId(*id),
        printed.then_some(ctx.printed_code_days),
    )
    .await?;
    render(
        issued,
        q.format.unwrap_or(Format::Json),
        q.scale.unwrap_or(8),
        &m,
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyForm {
    pub token: String,
}

/// Scan a code (staff, officials, admins): `{token}` as JSON, or a photo as multipart field
/// `image`. A forged or broken code is `200 {"valid": false, "error"}`.
#[utoipa::path(post, path = "/v1/verify", tag = "codes", security(("bearer" = [])), request_body = VerifyForm,
    responses((status = 200, body = Verification), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn verify(
    ctx: web::Data<Ctx>,
    p: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Refused before a photo is read: decoding is the expensive part.
    crate::service::authz::authorize(&p, crate::service::Action::Verify)?;
    let form: VerifyForm = crate::http::scan::read(&req, payload).await?;
    let token = form.token;
    Ok(HttpResponse::Ok().json(codes::verify(&ctx, &p, &token).await?))
}
