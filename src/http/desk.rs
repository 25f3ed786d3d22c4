//! A desk action at shelter `{id}` (check-in, check-out, distribution), read one way: who
//! acts, that they may act at this desk (checked before the body is read, so a stranger's
//! photo is never decoded), the form from JSON or a photo of the code, and the idempotency
//! key (the form's, which an offline queue keeps with the event, else the header's).

use super::errors::ApiError;
use super::idempotency::IdempotencyKey;
use crate::service::{Ctx, Principal, ServiceError};
use actix_web::{FromRequest, HttpRequest, dev, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A form a desk action reads.
pub trait DeskForm: DeserializeOwned {
    /// The key the form itself carries, if any.
    fn idempotency_key(&self) -> Option<&str>;
}

/// Everything a desk route needs before it calls its use case.
pub struct Desk<F> {
    pub ctx: web::Data<Ctx>,
    pub principal: Principal,
    pub shelter: Uuid,
    pub form: F,
    pub key: Option<String>,
}

impl<F: DeskForm + 'static> FromRequest for Desk<F> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let req = req.clone();
        let principal = Principal::from_request(&req, &mut dev::Payload::None);
        let body = web::Payload::from_request(&req, payload).into_inner();
        let key = IdempotencyKey::of(&req);
        Box::pin(async move {
            let ctx = req
                .app_data::<web::Data<Ctx>>()
                .cloned()
                .ok_or_else(|| ApiError::from(ServiceError::internal("no service context")))?;
            let principal = principal.await?;
            // An id that cannot exist names nothing (as `http::errors::path_error`).
            let shelter: Uuid = req
                .match_info()
                .get("id")
                .and_then(|s| s.parse().ok())
                .ok_or_else(super::errors::no_such_resource)?;
            crate::service::shelters::ensure_may_act(&ctx, &principal, shelter).await?;
            let body = body.map_err(|_| super::scan::unreadable())?;
            let form: F = super::scan::read(&req, body).await?;
            let key = key.or_body(form.idempotency_key())?;
            Ok(Desk {
                ctx,
                principal,
                shelter,
                form,
                key,
            })
        })
    }
}
