//! `POST /v1/print/cards`: a PDF of printed codes, streamed.

use crate::http::errors::{ApiError, Problem};
use crate::service::printing::{self, PrintForm};
use crate::service::{Ctx, Principal};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::stream;

/// The printed codes (valid for the season) of a zone, an incident's zones or a list of
/// residents, as one A4 PDF of cards with cut marks. The body arrives page by page; each
/// page starts with a `%safecode-progress done/total` comment a client can show. Audited.
#[utoipa::path(post, path = "/v1/print/cards", tag = "codes", security(("bearer" = [])), request_body = PrintForm,
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn cards(
    ctx: web::Data<Ctx>,
    p: Principal,
    f: web::Json<PrintForm>,
) -> Result<HttpResponse, ApiError> {
    let batch = printing::prepare(&ctx, &p, &f).await?;
    let (count, file_name) = (batch.len(), batch.file_name.clone());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    actix_web::rt::spawn(printing::stream(ctx.get_ref().clone(), batch, tx));
    let body = stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((chunk.map(web::Bytes::from), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header(("X-Card-Count", count.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}
