//! Residents: registration (one by one and as a CSV import), profiles, fact changes, and
//! settling records that name the same identity document.

use crate::domain::ResidentId;
use crate::domain::resident::{ResidentForm, ResidentPatchForm};
use crate::http::errors::{ApiError, Problem};
use crate::http::idempotency::IdempotencyKey;
use crate::service::import::{self, ImportReport};
use crate::service::reclaim;
use crate::service::residents::{self, Registered, ResidentView};
use crate::service::{Ctx, Principal};
use actix_web::http::StatusCode;
use actix_web::http::header::{self};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Register yourself (and your household). Public. Send an `Idempotency-Key` header to make
/// a retry after a lost answer safe: it returns the first answer, token included. The answer
/// is the same whether or not the identity document was registered before (a later
/// registration is kept as a claim that officials settle with the ID card in hand), so it
/// tells no one whether a document is known.
#[utoipa::path(post, path = "/v1/residents", tag = "residents", request_body = ResidentForm,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Registered),
        (status = 422, body = Problem), (status = 400, body = Problem), (status = 413, body = Problem)))]
pub async fn register(
    ctx: web::Data<Ctx>,
    key: IdempotencyKey,
    form: web::Json<ResidentForm>,
) -> Result<HttpResponse, ApiError> {
    let key = key.get()?;
    let r = residents::register(&ctx, &form, key.as_deref()).await?;
    Ok(HttpResponse::Created().json(r))
}

/// The records that name an identity document (officials, reading it off the card; the
/// number travels in the body so that it lands in no access log). Audited.
#[utoipa::path(post, path = "/v1/residents/lookup", tag = "residents", security(("bearer" = [])),
    request_body = reclaim::DocumentForm,
    responses((status = 200, body = reclaim::DocumentRecords), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn lookup(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<reclaim::DocumentForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(reclaim::lookup(&ctx, &p, &form).await?))
}

/// Identity documents that more than one record names, with a record in your jurisdiction
/// (officials): a registration may have been squatted, or someone registered twice.
#[utoipa::path(get, path = "/v1/residents/disputes", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = Vec<reclaim::DocumentRecords>), (status = 403, body = Problem)))]
pub async fn disputes(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(reclaim::disputes(&ctx, &p).await?))
}

/// Take a record back for the person in front of you, after checking their ID card
/// (officials): every access token the record had is revoked and a new one is returned once,
/// with a sign-in QR code for the person's phone. When other records name the same document,
/// a request to retire them waits for a second official. Correct the facts afterwards with
/// `PATCH /v1/residents/{id}`. Send an `Idempotency-Key` to make a retry safe.
#[utoipa::path(post, path = "/v1/residents/{id}/reclaim", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("Idempotency-Key" = Option<String>, Header)),
    request_body = reclaim::ReclaimForm,
    responses((status = 200, body = reclaim::Reclaimed), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn reclaim(
    ctx: web::Data<Ctx>,
    p: Principal,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    form: web::Json<reclaim::ReclaimForm>,
) -> Result<HttpResponse, ApiError> {
    let key = key.get()?;
    let origin = crate::http::public_base(&ctx, &req);
    let r = reclaim::reclaim(
        &ctx,
        &p,
        ResidentId(id.into_inner()),
        &form,
        key.as_deref(),
        &origin,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(r))
}

/// Your profile and household.
#[utoipa::path(get, path = "/v1/residents/me", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = ResidentView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn me(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(residents::me(&ctx, &p).await?))
}

/// My trail: every change to my colour and details with when, why and by which role, whether a
/// second official approved, my shelter stays and relief, and who looked at my record
/// (residents), in Chinese and English.
#[utoipa::path(get, path = "/v1/residents/me/history", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = crate::service::trail::Trail), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn my_history(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::service::trail::mine(&ctx, &p).await?))
}

/// Everything held about me, to take away: profile, household, alerts and the messages sent
/// for them, appeals, reports and my trail (residents; JSON, served as a download).
#[utoipa::path(get, path = "/v1/residents/me/data", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = crate::service::my_data::MyData), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn my_data(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    let data = crate::service::my_data::mine(&ctx, &p).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"safecode-my-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(data))
}

/// Correct my name, phone, address or needs (residents). 409 `needs_an_official` when the
/// change would make my colour stricter: an official records that, with a second's approval.
#[utoipa::path(patch, path = "/v1/residents/me", tag = "residents", security(("bearer" = [])),
    request_body = residents::CorrectionForm,
    responses((status = 200, body = ResidentView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn correct_mine(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<residents::CorrectionForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(residents::correct_mine(&ctx, &p, &form).await?))
}

/// Delete me: 200 when done at once (the record blanked, every device signed out), 202 when
/// something still needs the record (an open stay, an open appeal, an order in force), with
/// what it waits for; it is then carried out when that clears (residents).
#[utoipa::path(delete, path = "/v1/residents/me", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = crate::service::deletion::DeletionView), (status = 202, body = crate::service::deletion::DeletionView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn delete_me(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    let d = crate::service::deletion::request(&ctx, &p).await?;
    Ok(if d.status == "deleted" {
        HttpResponse::Ok().json(d)
    } else {
        HttpResponse::Accepted().json(d)
    })
}

/// A resident's trail (officials, within their district; the read is audited and shows in it).
#[utoipa::path(get, path = "/v1/residents/{id}/history", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = crate::service::trail::Trail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<ResidentId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::service::trail::of(&ctx, &p, *id).await?))
}

/// The language alerts reach me and my household in: `zh` or `en` (SMS, messages).
#[utoipa::path(put, path = "/v1/residents/me/language", tag = "residents", security(("bearer" = [])),
    request_body = residents::LanguageForm,
    responses((status = 200, body = residents::LanguageForm), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn language(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<residents::LanguageForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(residents::set_my_language(&ctx, &p, &form).await?))
}

/// A resident's profile (officials).
#[utoipa::path(get, path = "/v1/residents/{id}", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = ResidentView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(residents::get(&ctx, &p, ResidentId(id.into_inner())).await?))
}

/// Change a resident's needs, flags, location, address or phone (officials). Audited. 200
/// when applied; 202 with the approval when it would make their colour worse, which then
/// waits for a second official.
#[utoipa::path(patch, path = "/v1/residents/{id}", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = ResidentPatchForm,
    responses((status = 200, body = ResidentView), (status = 202, body = crate::service::approvals::ApprovalView),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    form: web::Json<ResidentPatchForm>,
) -> Result<HttpResponse, ApiError> {
    Ok(
        match residents::patch(&ctx, &p, ResidentId(id.into_inner()), &form).await? {
            residents::Patched::Applied(v) => HttpResponse::Ok().json(v),
            residents::Patched::Pending(a) => HttpResponse::Accepted().json(a),
        },
    )
}

/// Reads the upload's chunks as they arrive, for the blocking CSV parser.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// Bulk registration from CSV (officials), streamed: send the file as the body with
/// `Content-Type: text/csv`. Columns: `name,id_type,id_number,phone,address,lat,lon,birth_year,needs`
/// (needs separated by `;`). Bad lines are reported with their number and skipped; documents
/// already registered are counted, so importing a file twice is safe.
#[utoipa::path(post, path = "/v1/residents/import", tag = "residents", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem)))]
pub async fn import_csv(
    ctx: web::Data<Ctx>,
    p: Principal,
    req: HttpRequest,
    mut body: web::Payload,
    limit: web::Data<ImportLimit>,
) -> Result<HttpResponse, ApiError> {
    crate::service::authz::authorize(&p, crate::service::Action::ImportResidents)?;
    let csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if !csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file with Content-Type: text/csv",
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("imports are limited to {} MiB", limit.0 / (1024 * 1024)),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.0) {
        return Err(too_large());
    }
    let (tx, rx) = mpsc::channel(8);
    let overflow = AtomicBool::new(false);
    let pump = async {
        let mut seen = 0usize;
        while let Some(chunk) = body.next().await {
            let msg = match chunk {
                Ok(b) => {
                    seen += b.len();
                    if seen > limit.0 {
                        overflow.store(true, Ordering::Relaxed);
                        Err(std::io::Error::other("upload over the limit"))
                    } else {
                        Ok(b)
                    }
                }
                Err(_) => Err(std::io::Error::other("upload interrupted")),
            };
            let stop = msg.is_err();
            if tx.send(msg).await.is_err() || stop {
                break;
            }
        }
        drop(tx);
    };
    let reader = ChannelReader {
        rx,
        buf: Bytes::new(),
    };
    let (_, report) = tokio::join!(pump, import::import_csv(&ctx, Some(&p), reader, |_| {}));
    let report = report?;
    if overflow.load(Ordering::Relaxed) {
        let mut e = too_large();
        e.detail = format!(
            "{}; {} lines before the limit were imported",
            e.detail, report.imported
        );
        return Err(e);
    }
    Ok(HttpResponse::Ok().json(report))
}

/// The largest CSV import accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub usize);
