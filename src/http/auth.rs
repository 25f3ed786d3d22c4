//! The bearer-token extractor: handlers receive a typed [`Principal`].

use super::errors::ApiError;
use crate::service::{Ctx, Principal, ServiceError, users};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

/// The raw bearer token of the request, for signing out.
pub struct Bearer(pub String);

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::from(ServiceError::Unauthenticated))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ServiceError::Unauthenticated.into());
    }
    Ok(token.trim().to_owned())
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(bearer(req).map(Bearer))
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let ctx = req.app_data::<web::Data<Ctx>>().cloned();
        Box::pin(async move {
            let token = token?;
            let ctx = ctx.ok_or_else(|| ApiError::from(ServiceError::Unauthenticated))?;
            Ok(users::authenticate(&ctx, &token).await?)
        })
    }
}
