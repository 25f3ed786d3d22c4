//! Who is asking: a typed [`Principal`] for handlers, from one of two carriers.
//!
//! - `Authorization: Bearer …`: machines (a gateway, scripts), residents' own devices and
//!   enrolled desk phones.
//! - the `sc_session` cookie (`Secure; HttpOnly; SameSite=Strict`): a person signed in to
//!   `/ops` with a password and a second factor. A request that changes something with this
//!   cookie must also come from this site's own pages (its `Origin`, or failing that
//!   `Sec-Fetch-Site: same-origin`): a cross-site form or script is refused before any
//!   handler runs. A bearer token is never sent by a browser on its own, so it needs no check.

use super::errors::ApiError;
use crate::service::{Ctx, Principal, ServiceError, users};
use crate::store::users::Carrier;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

pub const SESSION_COOKIE: &str = "sc_session";

/// The credential of the request as it came, for signing out.
pub enum Credential {
    Bearer(String),
    Session(String),
}

fn bearer(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let value = value.to_str().unwrap_or("");
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    Some(
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            Err(ServiceError::Unauthenticated.into())
        } else {
            Ok(token.trim().to_owned())
        },
    )
}

/// The host (and port) part of an `http(s)://` origin or URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Whether a state-changing request carrying the session cookie came from this site.
fn same_site(req: &HttpRequest) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    match header("origin") {
        Some(origin) => {
            let Some(from) = authority(origin) else {
                return false; // "null" (a sandboxed frame, a file) is no page of ours
            };
            let info = req.connection_info();
            let public = req
                .app_data::<web::Data<Ctx>>()
                .and_then(|ctx| ctx.alerting.public_url.clone());
            from.eq_ignore_ascii_case(info.host())
                || public
                    .as_deref()
                    .and_then(authority)
                    .is_some_and(|p| from.eq_ignore_ascii_case(p))
        }
        None => header("sec-fetch-site") == Some("same-origin"),
    }
}

fn credential(req: &HttpRequest) -> Result<Credential, ApiError> {
    if let Some(token) = bearer(req) {
        return token.map(Credential::Bearer);
    }
    let cookie = req
        .cookie(SESSION_COOKIE)
        .ok_or_else(|| ApiError::from(ServiceError::Unauthenticated))?;
    if !same_site(req) {
        return Err(ServiceError::CrossSite.into());
    }
    Ok(Credential::Session(cookie.value().to_owned()))
}

impl FromRequest for Credential {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(credential(req))
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let cred = credential(req);
        let ctx = req.app_data::<web::Data<Ctx>>().cloned();
        Box::pin(async move {
            let ctx = ctx.ok_or_else(|| ApiError::from(ServiceError::Unauthenticated))?;
            let (token, carrier) = match cred? {
                Credential::Bearer(t) => (t, Carrier::Header),
                Credential::Session(t) => (t, Carrier::Cookie),
            };
            Ok(users::authenticate(&ctx, &token, carrier).await?)
        })
    }
}
