//! The body of a desk action that carries a code: JSON with `token`, or multipart with the
//! photo in field `image` and the other fields as text.

use super::errors::ApiError;
use crate::qr;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// The largest text field in a multipart scan.
const FIELD_LIMIT: usize = 4096;
/// Parts a form may have (a scan or a report has a handful).
const MAX_PARTS: usize = 32;

/// A form cut by its route's bound (`http::bounds`: size, deadline) is that bound's problem.
fn multipart_problem(e: &actix_multipart::MultipartError) -> ApiError {
    match e {
        actix_multipart::MultipartError::Payload(p) => super::bounds::payload_problem(p),
        _ => unreadable(),
    }
}

pub(super) fn unreadable() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "the body could not be read",
    )
}

fn too_large(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("{what} is over the limit"),
    )
}

pub fn parse_form<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| super::errors::json_problem(&e))
}

/// Reads a JSON body (at most `JSON_LIMIT`) straight into the form, with no intermediate
/// JSON value: this is the scan's hot path.
pub async fn json<T: DeserializeOwned>(mut payload: web::Payload) -> Result<T, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| super::bounds::payload_problem(&e))?;
        if body.len() + chunk.len() > super::JSON_LIMIT {
            return Err(too_large("the JSON body"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| super::errors::json_problem(&e))
}

/// Reads a multipart form: its text fields as JSON values (numbers and booleans parsed, as
/// a form sends them as text) and the bytes of the file field `file`, if sent.
/// The body arrives already bounded in size and time (`http::bounds`): the parser, which
/// buffers a part's header until it ends, never sees more than the route allows.
pub async fn multipart(
    req: &HttpRequest,
    payload: web::Payload,
    file: &str,
) -> Result<(serde_json::Map<String, serde_json::Value>, Option<Vec<u8>>), ApiError> {
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut fields = serde_json::Map::new();
    let mut image: Option<Vec<u8>> = None;
    let mut parts = 0;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| multipart_problem(&e))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(too_large("the number of form parts"));
        }
        let name = field.name().unwrap_or("").to_owned();
        let (limit, what) = if name == file {
            (super::UPLOAD_LIMIT, "the file")
        } else {
            (FIELD_LIMIT, "a form field")
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| multipart_problem(&e))?;
            if bytes.len() + chunk.len() > limit {
                return Err(too_large(what));
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == file {
            image = Some(bytes);
        } else if !name.is_empty() {
            let text = String::from_utf8(bytes).map_err(|_| unreadable())?;
            let t = text.trim();
            let value = match t {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                _ => match (t.parse::<i64>(), t.parse::<f64>()) {
                    (Ok(i), _) => serde_json::Value::from(i),
                    (_, Ok(f)) if f.is_finite() => serde_json::Value::from(f),
                    _ => serde_json::Value::String(text),
                },
            };
            fields.insert(name, value);
        }
    }
    Ok((fields, image))
}

/// Reads a scan's form. A photo's code becomes the form's `token`.
pub async fn read<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("application/json") {
        return json(payload).await;
    }
    if !ct.starts_with("multipart/form-data") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with a token, or a multipart form with the photo in field image",
        ));
    }
    let (mut fields, image) = multipart(req, payload, "image").await?;
    let image = image.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_image",
            "send the photo in a field named image",
        )
    })?;
    let token = decode_photo(image).await?;
    fields.insert("token".into(), serde_json::Value::String(token));
    parse_form(serde_json::Value::Object(fields))
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
