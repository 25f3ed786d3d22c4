//! Desk phones enrolled by scanning. An official asks, on `/ops`, for an enrolment of a
//! shelter: a one-time code (shown as a QR code of a `/scan#enrol=…` link) valid for
//! [`ENROLMENT_MINUTES`]. A phone that reads it in time gets a device credential: a staff
//! account bound to that shelter alone, with one token that expires after `device_hours`
//! (renewable by an official) and is kept by the page, never shown. Officials list a
//! shelter's devices with their last use and revoke one or all.

use super::tokens::{self, BearerToken};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Invalid, Role, UserId, UserName};
use crate::store::{self, audit, devices, shelters, users};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub const ENROLMENT_MINUTES: i64 = 5;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentForm {
    /// What the desk is called on `/ops`, e.g. "Gym desk 2".
    pub name: String,
    /// How long the phone stays signed in; the configured default (72 h) when absent.
    #[serde(default)]
    pub hours: Option<u32>,
}

pub struct Enrolment {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

impl Enrolment {
    /// The link in the QR code: a phone's own camera app opens the scanner with it, and the
    /// scanner's camera reads it too. The code rides in the fragment, never sent to a server
    /// by a browser and never in a log.
    pub fn url(&self, base: &str) -> String {
        format!("{base}/scan#enrol={}", self.code)
    }
}

fn hours(form_hours: Option<u32>, default: u32) -> Result<i64> {
    match form_hours {
        None => Ok(i64::from(default)),
        Some(h) if (1..=720).contains(&h) => Ok(i64::from(h)),
        Some(_) => Err(Invalid::new("hours", "invalid_hours", "hours must be 1 to 720").into()),
    }
}

/// The shelter, if `p` manages shelters where it stands.
async fn managed_shelter(ctx: &Ctx, p: &Principal, shelter: Uuid) -> Result<i64> {
    authz::authorize(p, Action::ManageShelters)?;
    let s = shelters::locate_in(&ctx.db, shelter)
        .await?
        .ok_or(ServiceError::NotFound("shelter"))?;
    authz::ensure_resident_in_jurisdiction(p, Some(s.location()))?;
    Ok(s.id)
}

fn internal_id(p: &Principal) -> Result<i64> {
    match p {
        Principal::User { internal, .. } => Ok(*internal),
        Principal::Resident { .. } => Err(ServiceError::Forbidden),
    }
}

pub async fn start_enrolment(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    form: &EnrolmentForm,
) -> Result<Enrolment> {
    managed_shelter(ctx, p, shelter).await?;
    let name = UserName::parse(&form.name)?;
    let device_hours = hours(form.hours, ctx.sessions.device_hours)?;
    let now = ctx.now();
    let code = BearerToken::random().into_string();
    let expires_at = now + Duration::minutes(ENROLMENT_MINUTES);
    let mut tx = ctx.db.begin().await?;
    devices::insert_enrolment(
        &mut tx,
        &devices::NewEnrolment {
            code_hash: tokens::hash(&code),
            shelter_id: shelter,
            name: name.as_str(),
            device_hours,
            created_by: internal_id(p)?,
            now,
            expires_at,
        },
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "device.enrolment_offered")
            .subject(format!("shelter:{shelter}"))
            .after(json!({"hours": device_hours, "valid_minutes": ENROLMENT_MINUTES})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Enrolment { code, expires_at })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolForm {
    /// The code from the enrolment QR code (or the whole `/scan#enrol=` link).
    pub code: String,
}

pub struct Device {
    pub token: String,
    pub device: UserId,
    pub shelter: Uuid,
    pub name: String,
    pub expires_at: DateTime<Utc>,
}

/// Turns a scanned enrolment code into this phone's credential, once.
pub async fn enrol(ctx: &Ctx, form: &EnrolForm) -> Result<Device> {
    let code = form.code.trim();
    let code = code.rsplit_once("enrol=").map_or(code, |(_, c)| c);
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let Some(e) = devices::claim_enrolment(&mut tx, &tokens::hash(code), now).await? else {
        tx.rollback().await?;
        return Err(ServiceError::Conflict {
            code: "enrolment_invalid",
            detail: "this enrolment code was used or has expired; ask for a new one on /ops".into(),
        });
    };
    let device = UserId::random();
    let id = users::insert_user(
        &mut tx,
        &users::NewUserRow {
            public_id: device,
            role: Role::Staff,
            name: &e.name,
            jurisdiction: None,
            shelters: &[e.shelter_id],
            created_by: Some(e.created_by),
            login: None,
            device_shelter: Some(e.shelter_id),
            now,
        },
    )
    .await?;
    let token = BearerToken::random();
    let expires_at = now + Duration::hours(e.device_hours);
    users::insert_credential(
        &mut tx,
        &token.hash(),
        users::TokenOwner::User(id),
        users::TokenKind::Device,
        Some(expires_at),
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(format!("staff:{device}"), "device.enrol")
            .subject(format!("shelter:{}", e.shelter_id))
            .after(json!({"expires_at": expires_at})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Device {
        token: token.into_string(),
        device,
        shelter: e.shelter_id,
        name: e.name,
        expires_at,
    })
}

pub async fn list(ctx: &Ctx, p: &Principal, shelter: Uuid) -> Result<Vec<devices::DeviceRow>> {
    managed_shelter(ctx, p, shelter).await?;
    Ok(devices::of_shelter(&ctx.db, shelter, ctx.now() - Duration::days(1)).await?)
}

/// Revokes one device (`Some`) or every device of the shelter; the phones are signed out on
/// their next request, on every server (the principal cache is cleared here, and another
/// server remembers a credential for at most `auth_cache_ms`).
pub async fn revoke(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    device: Option<UserId>,
) -> Result<u64> {
    managed_shelter(ctx, p, shelter).await?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let n = devices::revoke(&mut tx, shelter, device.map(|d| d.0), now).await?;
    if n == 0 && device.is_some() {
        tx.rollback().await?;
        return Err(ServiceError::NotFound("device"));
    }
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "device.revoke")
            .subject(match device {
                Some(d) => format!("staff:{d}"),
                None => format!("shelter:{shelter}"),
            })
            .after(json!({"devices": n})),
        now,
    )
    .await?;
    tx.commit().await?;
    ctx.principals.clear();
    Ok(n)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewForm {
    /// From now; the configured default when absent.
    #[serde(default)]
    pub hours: Option<u32>,
}

pub async fn renew(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    device: UserId,
    form: &RenewForm,
) -> Result<DateTime<Utc>> {
    managed_shelter(ctx, p, shelter).await?;
    let now = ctx.now();
    let expires_at = now + Duration::hours(hours(form.hours, ctx.sessions.device_hours)?);
    let mut tx: store::Tx = ctx.db.begin().await?;
    if !devices::renew(&mut tx, shelter, device.0, expires_at).await? {
        tx.rollback().await?;
        return Err(ServiceError::NotFound("device"));
    }
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "device.renew")
            .subject(format!("staff:{device}"))
            .after(json!({"expires_at": expires_at})),
        now,
    )
    .await?;
    tx.commit().await?;
    ctx.principals.clear();
    Ok(expires_at)
}
