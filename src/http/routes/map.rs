//! The console's base map: where its tiles come from, and the tiles of an MBTiles file.

use crate::http::errors::ApiError;
use crate::service::{Ctx, ServiceError};
use crate::store::tiles::TileAddress;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::Serialize;

/// Served from the MBTiles file set by `SAFECODE_TILES`.
pub const LOCAL_TILES: &str = "/tiles/{z}/{x}/{y}";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MapConfig {
    /// A URL template with `{z}`, `{x}`, `{y}`; none: the map is drawn on a plain background.
    pub tile_url: Option<String>,
    pub attribution: String,
    pub max_zoom: u8,
}

/// Where the map's base tiles come from (no sign-in: the same for everyone, and nothing
/// personal).
#[utoipa::path(get, path = "/v1/map", tag = "zones", responses((status = 200, body = MapConfig)))]
pub async fn config(ctx: web::Data<Ctx>) -> HttpResponse {
    let (tile_url, max_zoom) = match (&ctx.tiles, &ctx.map.tile_url) {
        (Some(file), _) => (Some(LOCAL_TILES.to_owned()), file.max_zoom),
        (None, Some(url)) => (Some(url.clone()), 19),
        (None, None) => (None, 19),
    };
    HttpResponse::Ok().json(MapConfig {
        tile_url,
        attribution: ctx.map.tile_attribution.clone(),
        max_zoom,
    })
}

/// One tile of the MBTiles file; 404 where the file has none (the map leaves it blank).
pub async fn tile(
    ctx: web::Data<Ctx>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (z, x, y) = path.into_inner();
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_tile",
            "this map has no tile there",
        )
    };
    let Some(file) = &ctx.tiles else {
        return Err(missing());
    };
    // Leaflet asks for `{y}`; some clients add an extension.
    let y = y.split('.').next().unwrap_or_default();
    let address = match (z.parse(), x.parse(), y.parse()) {
        (Ok(z), Ok(x), Ok(y)) => TileAddress::new(z, x, y),
        _ => None,
    }
    .ok_or_else(missing)?;
    let image = file
        .tile(address)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(missing)?;
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(image))
}
