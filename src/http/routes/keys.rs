//! The public signing keys (a JWKS) and their rotation by an admin.

use crate::http::errors::{ApiError, Problem};
use crate::service::{Ctx, Principal, keys};
use actix_web::{HttpResponse, web};

/// The public keys that verify codes, as a JWKS (RFC 8037), each with its status.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", responses((status = 200, description = "JWKS")))]
pub async fn jwks(ctx: web::Data<Ctx>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .json(ctx.keys.jwks())
}

/// A new signing key (admin); the old ones are retired and still verify their codes.
#[utoipa::path(post, path = "/v1/keys/rotate", tag = "keys", security(("bearer" = [])),
    responses((status = 200, description = "JWKS after the rotation"), (status = 403, body = Problem)))]
pub async fn rotate(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .json(keys::rotate(&ctx, &p).await?))
}
