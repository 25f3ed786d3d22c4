//! Alerts: send, inbox, acknowledge, who has been reached and who is still to reach.

use crate::domain::alert::AlertForm;
use crate::http::csv_export;
use crate::http::errors::{ApiError, Problem};
use crate::http::idempotency::IdempotencyKey;
use crate::service::alerts::{self, Acknowledged, AlertStatus, InboxItem, Recipient, Sent};
use crate::service::{Ctx, Principal};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

/// Send an alert to the residents of zones (officials). The recipients are the zones'
/// residents now; CAP 1.2 values (category, responseType, urgency, severity, certainty).
/// Send an `Idempotency-Key` to make a retry safe: the same form again under the same key gets
/// the first answer, and nobody is alerted twice.
#[utoipa::path(post, path = "/v1/alerts", tag = "alerts", security(("bearer" = [])), request_body = AlertForm,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Sent), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn send(
    ctx: web::Data<Ctx>,
    p: Principal,
    key: IdempotencyKey,
    form: web::Json<AlertForm>,
) -> Result<HttpResponse, ApiError> {
    let key = key.get()?;
    Ok(HttpResponse::Created().json(alerts::send(&ctx, &p, &form, key.as_deref()).await?))
}

/// The latest 100 alerts with recipients, acknowledged and pending (officials).
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Vec<crate::service::alerts::AlertSummary>), (status = 403, body = Problem)))]
pub async fn list(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(alerts::list(&ctx, &p).await?))
}

/// My alerts, newest first, with whether I acknowledged each (residents).
#[utoipa::path(get, path = "/v1/residents/me/alerts", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Vec<InboxItem>), (status = 403, body = Problem)))]
pub async fn inbox(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(alerts::inbox(&ctx, &p).await?))
}

/// "I have read this" (residents; a repeat keeps the first time).
#[utoipa::path(post, path = "/v1/alerts/{id}/ack", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Acknowledged), (status = 404, body = Problem)))]
pub async fn acknowledge(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(alerts::acknowledge(&ctx, &p, *id).await?))
}

/// Who has been informed: recipients, acknowledged, pending, median time to acknowledge,
/// per zone (officials).
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = AlertStatus), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn status(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(alerts::status(&ctx, &p, *id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecipientQuery {
    /// `false`: the people still to reach.
    pub acknowledged: Option<bool>,
    /// From 0.
    pub page: Option<i64>,
    /// Default 500, at most 10,000.
    pub per_page: Option<i64>,
}

/// The recipients with the contact details an official needs, vulnerable residents first;
/// JSON, or CSV with `Accept: text/csv` (officials; every download is audited).
#[utoipa::path(get, path = "/v1/alerts/{id}/recipients", tag = "alerts", security(("bearer" = [])), params(RecipientQuery),
    responses((status = 200, body = Vec<Recipient>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn recipients(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    q: web::Query<RecipientQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let rows = alerts::recipients(
        &ctx,
        &p,
        *id,
        q.acknowledged,
        q.page.unwrap_or(0),
        q.per_page.unwrap_or(500),
    )
    .await?;
    if !csv_export::wanted(&req) {
        return Ok(HttpResponse::Ok().json(rows));
    }
    let mut out = csv_export::Csv::new(&[
        "resident_id",
        "name",
        "phone",
        "address",
        "needs",
        "zone",
        "acknowledged_at",
        "reached_at",
    ])?;
    for r in &rows {
        let needs: Vec<&str> = r.needs.iter().map(|n| n.as_str()).collect();
        out.row([
            r.resident_id.to_string(),
            r.name.clone(),
            r.phone.clone().unwrap_or_default(),
            r.address.clone().unwrap_or_default(),
            needs.join(";"),
            r.zone.clone().unwrap_or_default(),
            r.acknowledged_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            r.reached_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ])?;
    }
    let body = out.into_bytes()?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .body(body))
}

/// "I am safe" (residents): at home or with relatives; acknowledges my latest alert.
#[utoipa::path(post, path = "/v1/residents/me/safe", tag = "alerts", security(("bearer" = [])),
    request_body = crate::service::safety::SafeForm,
    responses((status = 200, body = crate::service::safety::Safe), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn safe(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<crate::service::safety::SafeForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::service::safety::mine(&ctx, &p, &form).await?))
}

/// Record "safe" for a resident reached by phone (officials; audited). 202 with an approval
/// when it would make their colour worse ("at home" over "with relatives" under an order).
#[utoipa::path(post, path = "/v1/residents/{id}/safe", tag = "alerts", security(("bearer" = [])),
    request_body = crate::service::safety::SafeForm,
    responses((status = 200, body = crate::service::safety::Safe), (status = 202, body = crate::service::approvals::ApprovalView),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn safe_for(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    form: web::Json<crate::service::safety::SafeForm>,
) -> Result<HttpResponse, ApiError> {
    use crate::service::safety::{Recorded, for_resident};
    Ok(
        match for_resident(&ctx, &p, crate::domain::ResidentId(*id), &form).await? {
            Recorded::Now(s) => HttpResponse::Ok().json(s),
            Recorded::Pending(a) => HttpResponse::Accepted().json(a),
        },
    )
}

/// Send the alert again to those who have not acknowledged, through the channels asked
/// (`sms`, `voice`; default sms). A phone gets the same alert at most once in 10 minutes.
#[utoipa::path(post, path = "/v1/alerts/{id}/resend", tag = "alerts", security(("bearer" = [])),
    request_body = crate::service::alerts::ResendForm,
    responses((status = 200, body = crate::service::alerts::Resent), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn resend(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    form: crate::http::body::OptionalJson<crate::service::alerts::ResendForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form
        .0
        .unwrap_or(crate::service::alerts::ResendForm { channels: None });
    Ok(HttpResponse::Ok().json(alerts::resend(&ctx, &p, *id, &form).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `sms` or `voice`.
    pub channel: String,
    /// Messages after this id.
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// Undelivered messages for an SMS or voice gateway, oldest first (admins: the gateway's account).
#[utoipa::path(get, path = "/v1/outbox", tag = "alerts", security(("bearer" = [])), params(OutboxQuery),
    responses((status = 200, body = Vec<crate::service::alerts::OutboxMessage>), (status = 403, body = Problem)))]
pub async fn outbox(
    ctx: web::Data<Ctx>,
    p: Principal,
    q: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        alerts::outbox(
            &ctx,
            &p,
            &q.channel,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(100),
        )
        .await?,
    ))
}

/// The gateway delivered this message.
#[utoipa::path(post, path = "/v1/outbox/{id}/delivered", tag = "alerts", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delivered(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    alerts::delivered(&ctx, &p, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn xml_failed(_: std::io::Error) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "xml",
        "could not write the XML",
    )
}

/// The alert as OASIS CAP 1.2 XML (public, like any public warning; no recipient in it).
#[utoipa::path(get, path = "/v1/alerts/{id}/cap", tag = "alerts",
    responses((status = 200, content_type = "application/cap+xml", body = String), (status = 404, body = Problem)))]
pub async fn cap(ctx: web::Data<Ctx>, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let a = alerts::cap(&ctx, *id).await?;
    Ok(HttpResponse::Ok()
        .content_type(crate::http::cap::CAP_CONTENT_TYPE)
        .body(crate::http::cap::alert_xml(&a).map_err(xml_failed)?))
}

/// Alerts in force as an Atom feed of links to their CAP messages (public), the form alert
/// aggregators poll.
#[utoipa::path(get, path = "/v1/alerts.atom", tag = "alerts",
    responses((status = 200, content_type = "application/atom+xml", body = String)))]
pub async fn feed(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let entries = alerts::feed(&ctx).await?;
    let base = crate::http::public_base(&ctx, &req);
    let updated = entries.first().map(|e| e.sent).unwrap_or_else(|| ctx.now());
    let body = crate::http::cap::feed_xml(&base, &ctx.alerting.cap_sender, updated, &entries)
        .map_err(xml_failed)?;
    Ok(HttpResponse::Ok()
        .content_type(crate::http::cap::ATOM_CONTENT_TYPE)
        .body(body))
}
