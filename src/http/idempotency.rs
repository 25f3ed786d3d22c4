//! The `Idempotency-Key` of a request, read in one place: from the header, or (for desk
//! actions, whose offline queue keeps the key with the event) from the body first.

use super::errors::ApiError;
use crate::service::ServiceError;
use crate::service::residents::parse_idempotency_key;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use std::future::{Ready, ready};

/// The header as sent; parsed when the handler asks, so that a body's key can win over it.
pub struct IdempotencyKey {
    header: Option<String>,
}

impl IdempotencyKey {
    /// The header's key (`None` when absent); a malformed one is a 422.
    pub fn get(&self) -> Result<Option<String>, ApiError> {
        self.or_body(None)
    }

    /// The body's key, else the header's.
    pub fn or_body(&self, body: Option<&str>) -> Result<Option<String>, ApiError> {
        body.or(self.header.as_deref())
            .map(|k| parse_idempotency_key(k).map_err(|e| ServiceError::from(e).into()))
            .transpose()
    }
}

impl IdempotencyKey {
    pub fn of(req: &HttpRequest) -> Self {
        let header = req.headers().get("idempotency-key").map(|v| {
            // Not visible ASCII: kept as a value the parser refuses.
            v.to_str().unwrap_or("\u{0}").to_owned()
        });
        IdempotencyKey { header }
    }
}

impl FromRequest for IdempotencyKey {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(IdempotencyKey::of(req)))
    }
}
