//! Staff, officials, admins and gateways: creation and disabling (admins), sign-out.

use crate::domain::UserId;
use crate::http::auth::Credential;
use crate::http::errors::{ApiError, Problem};
use crate::service::users::{self, Creator, NewUserForm};
use crate::service::{Ctx, Principal};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedUserBody {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// A machine's bearer token (an account without `login`), shown once; only its hash is
    /// stored.
    pub token: Option<String>,
    /// A person's one-time link (an account with `login`) to choose a password and enrol a
    /// second factor; valid 24 h.
    pub setup_url: Option<String>,
}

/// Create a staff member, official or admin (admin only). The token is shown once.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = NewUserForm,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedUserBody), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: web::Data<Ctx>,
    p: Principal,
    form: web::Json<NewUserForm>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let u = users::create(&ctx, Creator::Principal(&p), &form).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedUserBody {
            user_id: u.user_id,
            token: u.token,
            setup_url: u
                .setup
                .map(|s| s.url(&crate::http::public_base(&ctx, &req))),
        }))
}

/// Disable a user and revoke their tokens (admin only).
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn disable(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    users::disable(&ctx, &p, UserId(id.into_inner()), None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke the token this request carries (sign out).
#[utoipa::path(delete, path = "/v1/tokens/current", tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn sign_out(
    ctx: web::Data<Ctx>,
    p: Principal,
    cred: Credential,
) -> Result<HttpResponse, ApiError> {
    match cred {
        Credential::Bearer(token) => users::sign_out(&ctx, &token).await?,
        Credential::Session(token) => crate::service::sign_in::sign_out(&ctx, &p, &token).await?,
    }
    Ok(HttpResponse::NoContent().finish())
}
