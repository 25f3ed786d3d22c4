//! `GET /v1/events`: Server-Sent Events telling a console that something it shows changed.

use crate::http::errors::{ApiError, Problem};
use crate::service::{Action, Ctx, Principal, authz, live};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::{StreamExt, stream};
use std::time::Duration;

/// A heartbeat so that proxies keep the stream open, and so that the page can tell a stream
/// that went silent (a half-open connection on a phone network never reports an error) and
/// open a new one.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// One `change` event now and one whenever the counters move; `data` holds the counters (no
/// personal data), which the console compares with what it last fetched; a `ping` every 15 s.
/// The browser reconnects by itself after a drop.
#[utoipa::path(get, path = "/v1/events", tag = "zones", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 403, body = Problem)))]
pub async fn events(ctx: web::Data<Ctx>, p: Principal) -> Result<HttpResponse, ApiError> {
    authz::authorize(&p, Action::ManageZones)?;
    let mut rx = ctx.live.subscribe();
    live::refresh(&ctx).await;
    let first = format!("retry: 3000\n{}", event(&ctx.live.current()));
    // The stream ends and the browser opens a new one, signing in afresh: a revoked session
    // or a disabled account stops hearing within this time.
    let deadline = tokio::time::Instant::now() + ctx.live.lifetime;
    // The current value is in the first event: the stream goes on from there.
    rx.borrow_and_update();
    let rest = stream::unfold(rx, move |mut rx| async move {
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        let wait = deadline.min(tokio::time::Instant::now() + HEARTBEAT);
        let chunk = match tokio::time::timeout_at(wait, rx.changed()).await {
            Ok(Ok(())) => event(&rx.borrow_and_update()),
            Ok(Err(_)) => return None,
            Err(_) => "event: ping\ndata: {}\n\n".to_owned(),
        };
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), rx))
    });
    let body = stream::once(async move { Ok(web::Bytes::from(first)) }).chain(rest);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // nginx buffers responses unless told otherwise: events would arrive in lumps.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

fn event(c: &crate::store::live::Counters) -> String {
    let data = serde_json::to_string(c).unwrap_or_default();
    format!("event: change\ndata: {data}\n\n")
}
