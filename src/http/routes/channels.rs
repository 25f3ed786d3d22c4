//! The channels alerts leave by: villages' and incidents' contacts (DingTalk robots, email),
//! SMS gateways' delivery receipts, one-tap acknowledgement links, and the door-to-door list
//! escalation ends in.

use crate::http::errors::{ApiError, Problem};
use crate::http::idempotency::IdempotencyKey;
use crate::service::alerts::sms::ReceiptAnswer;
use crate::service::alerts::{self, ContactForm, ContactView, DoorToDoor, LinkAck};
use crate::service::{Ctx, Principal};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

/// Add a village's or an incident's contact: a DingTalk group robot (its address must be on
/// an allowed host) or an email address (officials; audited).
/// Send an `Idempotency-Key` to make a retry safe.
#[utoipa::path(post, path = "/v1/alert-contacts", tag = "alerts", security(("bearer" = [])), request_body = ContactForm,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ContactView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add(
    ctx: web::Data<Ctx>,
    p: Principal,
    key: IdempotencyKey,
    form: web::Json<ContactForm>,
) -> Result<HttpResponse, ApiError> {
    let key = key.get()?;
    Ok(HttpResponse::Created().json(alerts::contacts::add(&ctx, &p, &form, key.as_deref()).await?))
}

/// The contacts set up, without their secrets (officials).
#[utoipa::path(get, path = "/v1/alert-contacts", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Vec<ContactView>), (status = 403, body = Problem)))]
pub async fn list(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(alerts::contacts::list(&ctx, &p).await?))
}

/// Remove a contact (officials; audited).
#[utoipa::path(delete, path = "/v1/alert-contacts/{id}", tag = "alerts", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    alerts::contacts::remove(&ctx, &p, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DoorQuery {
    /// From 0.
    pub page: Option<i64>,
    /// Default 500, at most 2,000.
    pub per_page: Option<i64>,
}

/// Who has still not acknowledged, village by village, with what was tried for each
/// (officials; personal data; every read audited).
#[utoipa::path(get, path = "/v1/alerts/{id}/door-to-door", tag = "alerts", security(("bearer" = [])), params(DoorQuery),
    responses((status = 200, body = DoorToDoor), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn door_to_door(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    q: web::Query<DoorQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        alerts::door_to_door(
            &ctx,
            &p,
            *id,
            q.page.unwrap_or(0),
            q.per_page.unwrap_or(500),
        )
        .await?,
    ))
}

/// Acknowledge an alert with the personal link from its SMS: once, before it expires; no
/// sign-in (the link is the proof). 410 when used or expired.
#[utoipa::path(post, path = "/v1/ack/{token}", tag = "alerts",
    responses((status = 200, body = LinkAck), (status = 404, body = Problem), (status = 410, body = Problem)))]
pub async fn ack_link(
    ctx: web::Data<Ctx>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(alerts::use_link(&ctx, &token).await?))
}

/// A Twilio status callback (form fields, `X-Twilio-Signature`): "delivered" marks the
/// recipient reached, once per message id.
#[utoipa::path(post, path = "/v1/sms/receipts/twilio", tag = "alerts",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = ReceiptAnswer), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn twilio_receipt(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let sig = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok());
    Ok(HttpResponse::Ok().json(alerts::sms::twilio_receipt(&ctx, sig, &params).await?))
}

/// A JSON gateway's receipt (`{"message_id", "status"}`, signed `Safecode-Signature`).
#[utoipa::path(post, path = "/v1/sms/receipts/json", tag = "alerts",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = ReceiptAnswer), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn json_receipt(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sig = req
        .headers()
        .get(alerts::webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    Ok(HttpResponse::Ok().json(alerts::sms::json_receipt(&ctx, sig, &body).await?))
}
