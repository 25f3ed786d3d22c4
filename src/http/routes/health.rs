//! Liveness and readiness for load balancers and orchestrators.

use crate::http::errors::ApiError;
use crate::service::Ctx;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready"),
    (status = 503, description = "not ready", body = crate::http::errors::Problem)))]
pub async fn readyz(ctx: web::Data<Ctx>) -> Result<HttpResponse, ApiError> {
    match ctx.db.ready().await {
        Ok(true) => {
            Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": ctx.db.kind()})))
        }
        Ok(false) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "migrations are not applied yet",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database is not reachable",
            ))
        }
    }
}
