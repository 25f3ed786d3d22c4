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

/// The season a printed code lasts.
pub const PRINTED_DAYS: i64 = 180;

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
            .body(card(&issued).map_err(too_long)?),
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A printable card: colour band with the colour in words, the masked name, the issue date,
/// the code, and the reminder that the colour is checked live.
fn card(i: &Issued) -> Result<String, qr::QrError> {
    let (size, path) = qr::svg_path(&i.token)?;
    let (band, words) = match i.colour {
        crate::domain::Colour::Green => ("#1b7f3b", "GREEN 绿码"),
        crate::domain::Colour::Yellow => ("#f2c200", "YELLOW 黄码"),
        crate::domain::Colour::Red => ("#c62828", "RED 红码"),
    };
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="85.6mm" height="140mm" viewBox="0 0 428 700">
<rect width="428" height="700" fill="#fff"/>
<rect width="428" height="70" fill="{band}"/>
<text x="214" y="47" font-size="30" font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#000" stroke="#fff" stroke-width="0.6">{words}</text>
<text x="214" y="110" font-size="26" font-family="sans-serif" text-anchor="middle">{name}</text>
<text x="214" y="140" font-size="16" font-family="sans-serif" text-anchor="middle">issued 签发 {issued} · valid until 有效至 {expires}</text>
<svg x="34" y="160" width="360" height="360" viewBox="0 0 {size} {size}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>
<text x="214" y="560" font-size="15" font-family="sans-serif" text-anchor="middle">The colour on this card is the colour when it was printed.</text>
<text x="214" y="582" font-size="15" font-family="sans-serif" text-anchor="middle">Shelters check your colour live when they scan it.</text>
<text x="214" y="612" font-size="15" font-family="sans-serif" text-anchor="middle">此卡颜色为打印时的颜色，安置点扫码时实时核验。</text>
</svg>"##,
        name = escape(&i.display),
        issued = i.issued_at.format("%Y-%m-%d"),
        expires = i.expires_at.format("%Y-%m-%d"),
    ))
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
    let issued =
        codes::for_resident(&ctx, &p, ResidentId(*id), printed.then_some(PRINTED_DAYS)).await?;
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

/// How many photos are decoded at once: half the cores, at least one.
static PHOTO_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::sync::Semaphore::new(cores.div_ceil(2))
});
const PHOTO_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the code in a photo: 422 `unreadable_image` or `no_qr_found` when it cannot.
pub(crate) async fn decode_photo(image: Vec<u8>) -> Result<String, ApiError> {
    // Decoding a photo takes tens of milliseconds of CPU: off the async workers, and at most
    // half the cores at once, so that a burst of photos cannot stall token checks. A photo
    // that waits too long for its turn is refused rather than queued forever.
    let busy = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many photos are being read; try again in a moment",
        )
    };
    let _slot = tokio::time::timeout(PHOTO_WAIT, PHOTO_SLOTS.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let decoded = web::block(move || qr::decode(&image))
        .await
        .map_err(|_| busy())?;
    decoded.map_err(|e| match e {
        qr::QrError::BadImage => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable_image",
            "send a PNG or JPEG photo",
        ),
        _ => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_qr_found",
            "no code could be read in the photo; try again closer, steadier, without glare",
        ),
    })
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
