//! One place bounds every request body before a byte of it is paid for: how large it may be
//! and how long its client may take, by the route it is sent to. A declared length over the
//! bound is refused at once; a body that grows past it, or trickles past its deadline, is cut
//! where it stands. Either answer (413, 408) closes the connection. The readers behind (JSON,
//! multipart, CSV) keep their own limits; this is the floor under all of them.

use super::errors::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::StreamExt;
use std::time::Duration;

/// What a route's body may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub bytes: usize,
    pub time: Duration,
}

/// The settings the table reads: the import limit and the body deadline.
#[derive(Debug, Clone, Copy)]
pub struct BodySettings {
    pub import_bytes: usize,
    pub deadline: Duration,
}

/// The table: by method and the route pattern the request matches.
pub fn bound_for(method: &Method, pattern: Option<&str>, s: &BodySettings) -> Bound {
    let photo = super::UPLOAD_LIMIT + 64 * 1024;
    let (bytes, time) = match (method, pattern.unwrap_or("")) {
        (&Method::GET | &Method::HEAD | &Method::DELETE | &Method::OPTIONS, _) => {
            (16 * 1024, s.deadline)
        }
        (_, "/v1/residents/import") => (s.import_bytes, s.deadline * 10),
        (_, "/v1/zones" | "/v1/zones/{id}" | "/v1/zones/preview") => {
            (super::ZONE_JSON_LIMIT, s.deadline)
        }
        (
            _,
            "/v1/verify"
            | "/v1/reports"
            | "/v1/shelters/{id}/checkins"
            | "/v1/shelters/{id}/checkouts"
            | "/v1/shelters/{id}/distributions",
        ) => (photo, s.deadline),
        (_, "/v1/shelters/{id}/sync") => (super::UPLOAD_LIMIT, s.deadline),
        _ => (super::JSON_LIMIT, s.deadline),
    };
    Bound { bytes, time }
}

fn declared_length(req: &ServiceRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The problem a cut body gets, for every reader to use.
pub fn payload_problem(e: &PayloadError) -> ApiError {
    match e {
        PayloadError::Overflow => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is over this route's limit",
        ),
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the body did not arrive in time",
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body could not be read",
        ),
    }
}

pub async fn bound(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let settings = req
        .app_data::<web::Data<BodySettings>>()
        .map(|s| *s.get_ref())
        .unwrap_or(BodySettings {
            import_bytes: super::UPLOAD_LIMIT,
            deadline: Duration::from_secs(60),
        });
    // Only a method with a body needs its route looked up (a match costs a walk of the table).
    let bodiless = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
    );
    let pattern = if bodiless { None } else { req.match_pattern() };
    let b = bound_for(req.method(), pattern.as_deref(), &settings);
    if declared_length(&req).is_some_and(|n| n > b.bytes as u64) {
        let res = payload_problem(&PayloadError::Overflow).error_response();
        return Ok(req.into_response(res));
    }
    let deadline = tokio::time::Instant::now() + b.time;
    let max = b.bytes;
    let inner = req.take_payload();
    let bounded = futures_util::stream::unfold(
        (inner, 0usize, false),
        move |(mut p, seen, done)| async move {
            if done {
                return None;
            }
            match tokio::time::timeout_at(deadline, p.next()).await {
                Err(_) => Some((
                    Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the body's deadline passed",
                    ))),
                    (p, seen, true),
                )),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((Err(e), (p, seen, true))),
                Ok(Some(Ok(chunk))) => {
                    let seen = seen + chunk.len();
                    if seen > max {
                        Some((Err(PayloadError::Overflow), (p, seen, true)))
                    } else {
                        Some((Ok(chunk), (p, seen, false)))
                    }
                }
            }
        },
    );
    // Fused: a reader may poll again after the end (the multipart parser does).
    req.set_payload(Payload::Stream {
        payload: Box::pin(bounded.fuse()),
    });
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_its_bound() {
        let s = BodySettings {
            import_bytes: 200 << 20,
            deadline: Duration::from_secs(60),
        };
        let b = |m: Method, p: &str| bound_for(&m, Some(p), &s);
        assert_eq!(b(Method::POST, "/v1/residents/import").bytes, 200 << 20);
        assert_eq!(
            b(Method::POST, "/v1/residents/import").time,
            Duration::from_secs(600)
        );
        assert_eq!(
            b(Method::POST, "/v1/verify").bytes,
            super::super::UPLOAD_LIMIT + 65_536
        );
        assert_eq!(
            b(Method::POST, "/v1/residents").bytes,
            super::super::JSON_LIMIT
        );
        assert_eq!(
            b(Method::PATCH, "/v1/zones/{id}").bytes,
            super::super::ZONE_JSON_LIMIT
        );
        assert_eq!(b(Method::GET, "/v1/zones").bytes, 16 * 1024);
        assert_eq!(
            bound_for(&Method::POST, None, &s).bytes,
            super::super::JSON_LIMIT
        );
    }
}
