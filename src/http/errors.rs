//! RFC 9457 problem details: the one place where an error becomes an HTTP status.

use crate::service::ServiceError;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:safecode:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// The offending field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Extension members of some problems (RFC 9457 §3.2), e.g. `nearest_shelters`.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub field: Option<String>,
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            field: None,
            extensions: Default::default(),
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:safecode:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.clone(),
            field: self.field.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type(PROBLEM_JSON);
        if matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
        ) {
            // The rest of what such a client sends is not read: the connection ends here.
            res.force_close();
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(secs) = self.extensions.get("retry_after").and_then(|v| v.as_u64()) {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.json(self.problem())
    }
}

impl From<ServiceError> for ApiError {
    /// The status and the words for each refusal; the code is `ServiceError::code`, the one
    /// name shared with the results of queued desk events.
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        let code = e.code();
        let (status, detail) = match &e {
            ServiceError::Invalid(i) => {
                return ApiError {
                    status: S::UNPROCESSABLE_ENTITY,
                    code: code.to_owned(),
                    detail: i.to_string(),
                    field: Some(i.field.clone()),
                    extensions: Default::default(),
                };
            }
            ServiceError::ConflictWith {
                detail, extensions, ..
            } => {
                return ApiError {
                    extensions: extensions.clone(),
                    ..ApiError::new(S::CONFLICT, code, detail.clone())
                };
            }
            ServiceError::Unauthenticated => {
                (S::UNAUTHORIZED, "a valid bearer token is required".into())
            }
            ServiceError::SignInRefused => (S::UNAUTHORIZED, e.to_string()),
            ServiceError::Locked { retry_after_secs }
            | ServiceError::Busy {
                retry_after_secs, ..
            } => {
                let mut a = ApiError::new(S::TOO_MANY_REQUESTS, code, e.to_string());
                a.extensions
                    .insert("retry_after".into(), (*retry_after_secs).into());
                return a;
            }
            ServiceError::CrossSite => (
                S::FORBIDDEN,
                "a signed-in page may change things only from this site's own pages".into(),
            ),
            ServiceError::Forbidden => (S::FORBIDDEN, "your role may not do this".into()),
            ServiceError::OutsideJurisdiction => {
                (S::FORBIDDEN, "this lies outside your jurisdiction".into())
            }
            ServiceError::SameOfficial => (
                S::FORBIDDEN,
                "a second, different official must decide a request".into(),
            ),
            ServiceError::NotIndependent(why) => (S::FORBIDDEN, (*why).to_owned()),
            ServiceError::NotFound(what) => (S::NOT_FOUND, format!("no such {what}")),
            ServiceError::Conflict { detail, .. } => (S::CONFLICT, detail.clone()),
            ServiceError::Gone { detail, .. } => (S::GONE, detail.clone()),
            ServiceError::InvalidCode(_) => (
                S::UNPROCESSABLE_ENTITY,
                "the code is not valid; ask for the resident's current code or check their ID"
                    .into(),
            ),
            ServiceError::IdempotencyKeyReused => (
                S::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was already used for a different request".into(),
            ),
            ServiceError::Store(s) if s.is_unavailable() => {
                tracing::error!(error = %s, "database unavailable");
                (
                    S::SERVICE_UNAVAILABLE,
                    "the database is not reachable; retry shortly".into(),
                )
            }
            ServiceError::Store(_) | ServiceError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                (
                    S::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has it under this response's X-Request-Id"
                        .into(),
                )
            }
        };
        ApiError::new(status, code, detail)
    }
}

/// The one answer to a body that does not read as the form: 400 when it is not JSON at all,
/// 422 when it is JSON of the wrong shape (the message names the field, never the value).
pub fn json_problem(e: &serde_json::Error) -> ApiError {
    let why = without_values(&e.to_string());
    if e.is_data() {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", why)
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {why}"),
        )
    }
}

/// The code and text for a status that the framework answered itself.
fn framework_problem(status: StatusCode) -> ApiError {
    let (code, detail) = match status.as_u16() {
        400 => ("bad_request", "the request is not well-formed"),
        401 => ("unauthenticated", "a valid bearer token is required"),
        404 => ("not_found", "no such resource"),
        405 => (
            "method_not_allowed",
            "this method is not allowed on this resource",
        ),
        406 => ("not_acceptable", "no acceptable representation"),
        408 => ("request_timeout", "the request took too long to arrive"),
        411 => ("length_required", "a Content-Length is required"),
        413 => ("payload_too_large", "the request body is too large"),
        414 => ("uri_too_long", "the URI is too long"),
        415 => ("unsupported_media_type", "unsupported Content-Type"),
        431 => ("headers_too_large", "the request headers are too large"),
        s if s >= 500 => ("internal", "internal error"),
        _ => ("error", "the request failed"),
    };
    ApiError::new(status, code, detail)
}

/// Rewrites any error response that is not yet problem details (405 from the router, 413
/// from the payload limit…) so that every error has the same shape.
pub fn to_problem<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut new = framework_problem(status).error_response();
    // Keep headers the framework set for a reason (Allow on a 405).
    if let Some(allow) = old.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, allow.clone());
    }
    new.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

/// serde's messages quote the offending value; that value may be personal data, so it is cut.
pub fn without_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut in_quote = false;
    for c in msg.chars() {
        match (c, in_quote) {
            ('"', false) => {
                in_quote = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                in_quote = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let e = match &err {
        J::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
        ),
        J::Payload(p) => super::bounds::payload_problem(p),
        J::Overflow { .. } | J::OverflowKnownLength { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the JSON body is over the limit (1 MiB; 8 MiB for zones)",
        ),
        J::Deserialize(d) => json_problem(d),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body could not be read",
        ),
    };
    e.into()
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        format!("invalid query string: {}", without_values(&err.to_string())),
    )
    .into()
}

/// The answer for a path that names nothing (no route, or an id that cannot exist).
pub fn no_such_resource() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
}

pub fn path_error(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    // An id that cannot exist names nothing.
    no_such_resource().into()
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(no_such_resource())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_from_messages() {
        assert_eq!(
            without_values(r#"invalid type: string "13912345678", expected f64 at line 1"#),
            r#"invalid type: string "…", expected f64 at line 1"#
        );
    }
}
