//! Signing in to `/ops`: password and second factor, setup links, sign-out.

use crate::domain::{Role, UserId};
use crate::http::auth::{Credential, SESSION_COOKIE};
use crate::http::errors::{ApiError, Problem};
use crate::http::public_base;
use crate::service::sign_in::{self, Resetter, Session, SetupForm, SignInForm};
use crate::service::{Ctx, Principal, passkeys, users};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionBody {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = String)]
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// The session cookie: never readable by scripts, never sent over plain HTTP (browsers
/// treat `localhost` as secure) nor with a request another site started.
fn cookie(value: &str, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

fn signed_in(s: Session, extra: Option<serde_json::Value>) -> HttpResponse {
    let secs = (s.expires_at - Utc::now()).num_seconds().max(0);
    let mut body = serde_json::json!(SessionBody {
        user_id: s.user,
        role: s.role,
        expires_at: s.expires_at,
    });
    if let (Some(extra), Some(map)) = (extra, body.as_object_mut()) {
        map.extend(extra.as_object().cloned().unwrap_or_default());
    }
    HttpResponse::Ok()
        .cookie(cookie(&s.token, secs))
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// Sign in with a sign-in name, password and a code from the authenticator app (or a
/// recovery code). Sets the session cookie. After five wrong attempts in a row the account
/// waits 30 s (doubling, at most 5 min); a recovery code still works while it waits.
#[utoipa::path(post, path = "/v1/auth/sign-in", tag = "sign-in", request_body = SignInForm,
    responses((status = 200, body = SessionBody, headers(("Set-Cookie" = String))),
        (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn sign_in(
    ctx: web::Data<Ctx>,
    form: web::Json<SignInForm>,
) -> Result<HttpResponse, ApiError> {
    let s = sign_in::sign_in(&ctx, &form).await?;
    Ok(signed_in(s, None))
}

/// Who this session is (the page asks on load).
#[utoipa::path(get, path = "/v1/auth/session", tag = "sign-in",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = SessionBody), (status = 401, body = Problem)))]
pub async fn session(p: Principal) -> Result<HttpResponse, ApiError> {
    match p {
        Principal::User { id, role, .. } => Ok(HttpResponse::Ok().json(serde_json::json!({
            "user_id": id, "role": role,
        }))),
        Principal::Resident { .. } => Err(crate::service::ServiceError::Forbidden.into()),
    }
}

/// Sign out: ends the session (or revokes the bearer token) this request carries.
#[utoipa::path(post, path = "/v1/auth/sign-out", tag = "sign-in",
    security(("session" = []), ("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn sign_out(
    ctx: web::Data<Ctx>,
    p: Principal,
    cred: Credential,
) -> Result<HttpResponse, ApiError> {
    match cred {
        Credential::Session(token) => sign_in::sign_out(&ctx, &p, &token).await?,
        Credential::Bearer(token) => users::sign_out(&ctx, &token).await?,
    }
    Ok(HttpResponse::NoContent().cookie(cookie("", 0)).finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupCode {
    pub setup_code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupOfferBody {
    pub login: String,
    #[schema(value_type = String)]
    pub role: Role,
    /// The authenticator secret as text (base32), for typing in.
    pub secret: String,
    pub otpauth_uri: String,
    /// The same as a QR code.
    pub qr_svg: String,
}

/// Open a setup link: the authenticator secret to enrol, as a QR code and as text.
#[utoipa::path(post, path = "/v1/auth/setup/offer", tag = "sign-in", request_body = SetupCode,
    responses((status = 200, body = SetupOfferBody), (status = 409, body = Problem)))]
pub async fn setup_offer(
    ctx: web::Data<Ctx>,
    form: web::Json<SetupCode>,
) -> Result<HttpResponse, ApiError> {
    let o = sign_in::setup_offer(&ctx, &form.setup_code).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SetupOfferBody {
            login: o.login,
            role: o.role,
            secret: o.secret,
            otpauth_uri: o.otpauth_uri,
            qr_svg: o.qr_svg,
        }))
}

/// Finish a setup link: choose the password, prove the authenticator with one code. Signs
/// in, and returns ten recovery codes, shown this once.
#[utoipa::path(post, path = "/v1/auth/setup", tag = "sign-in", request_body = SetupForm,
    responses((status = 200, body = SessionBody), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn setup(
    ctx: web::Data<Ctx>,
    form: web::Json<SetupForm>,
) -> Result<HttpResponse, ApiError> {
    let (s, codes) = sign_in::setup_finish(&ctx, &form).await?;
    Ok(signed_in(
        s,
        Some(serde_json::json!({ "recovery_codes": codes })),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupLinkBody {
    /// Open on the person's own device; valid 24 h, once.
    pub setup_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Reset an account's password and second factor (admin): ends its sessions and returns a
/// new one-time setup link for its owner.
#[utoipa::path(post, path = "/v1/users/{id}/reset", tag = "users",
    security(("session" = []), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = SetupLinkBody), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reset(
    ctx: web::Data<Ctx>,
    p: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let link = sign_in::reset(&ctx, Resetter::Admin(&p), UserId(id.into_inner())).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SetupLinkBody {
            setup_url: link.url(&public_base(&ctx, &req)),
            expires_at: link.expires_at,
        }))
}

/// A WebAuthn answer is a few kilobytes; anything larger is not one.
const PASSKEY_BODY_LIMIT: usize = 64 * 1024;

fn passkey_body(body: &web::Bytes) -> Result<&[u8], ApiError> {
    if body.len() > PASSKEY_BODY_LIMIT {
        return Err(ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "a passkey answer is at most 64 KiB",
        ));
    }
    Ok(body.as_ref())
}

fn site(ctx: &Ctx, req: &HttpRequest) -> Result<passkeys::Site, ApiError> {
    Ok(passkeys::Site::of(&public_base(ctx, req))?)
}

/// Start adding a passkey to your own account: options for `navigator.credentials.create`
/// (`PublicKeyCredentialCreationOptionsJSON`). Needs the service reached by a host name.
#[utoipa::path(post, path = "/v1/auth/passkeys/options", tag = "sign-in",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem),
        (status = 409, body = Problem)))]
pub async fn passkey_register_options(
    ctx: web::Data<Ctx>,
    p: Principal,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    passkeys::person(&p)?;
    let options = passkeys::register_options(&ctx, &p, &site(&ctx, &req)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(options))
}

/// Finish adding a passkey: the body is the new credential's `PublicKeyCredential.toJSON()`.
#[utoipa::path(post, path = "/v1/auth/passkeys", tag = "sign-in",
    security(("session" = []), ("bearer" = [])), request_body = Object,
    responses((status = 201), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn passkey_register(
    ctx: web::Data<Ctx>,
    p: Principal,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    passkeys::person(&p)?;
    passkeys::register(&ctx, &p, &site(&ctx, &req)?, passkey_body(&body)?).await?;
    Ok(HttpResponse::Created().finish())
}

/// Start signing in with a passkey: options for `navigator.credentials.get`.
#[utoipa::path(post, path = "/v1/auth/passkey/options", tag = "sign-in",
    responses((status = 200, body = Object), (status = 409, body = Problem),
        (status = 429, body = Problem)))]
pub async fn passkey_sign_in_options(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let options = passkeys::sign_in_options(&ctx, &site(&ctx, &req)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(options))
}

/// Sign in with a passkey: the body is `PublicKeyCredential.toJSON()` of the assertion. Sets
/// the session cookie, as the password and code do.
#[utoipa::path(post, path = "/v1/auth/passkey", tag = "sign-in", request_body = Object,
    responses((status = 200, body = SessionBody, headers(("Set-Cookie" = String))),
        (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 429, body = Problem)))]
pub async fn passkey_sign_in(
    ctx: web::Data<Ctx>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let s = passkeys::sign_in(&ctx, &site(&ctx, &req)?, passkey_body(&body)?).await?;
    Ok(signed_in(s, None))
}
