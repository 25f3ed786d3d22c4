//! Passkeys (WebAuthn) as an alternative way for a person to sign in to `/ops`: a credential
//! that lives on their phone or computer, unlocked by its own PIN, fingerprint or face (user
//! verification is required), so it stands for both a password and a second factor. A
//! signed-in person adds one; anyone may then start a sign-in with it. The ceremony checks
//! (challenge, origin, RP ID, signature, counters) are `webauthn_rp`'s; the ceremonies in
//! flight are database rows taken once, so several servers can share them.
//!
//! The RP ID is the host name people reach the service by (from `public_url`, else the
//! request). WebAuthn does not allow an IP address there: a service reached only by address
//! keeps passwords and TOTP.

use super::{Ctx, Principal, Result, ServiceError, sign_in};
use crate::domain::AuditDraft;
use crate::store::{audit, passkeys};
use chrono::{DateTime, Utc};
use serde_json::json;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::request::register::{
    CredProtect, Nickname, PublicKeyCredentialUserEntity, RegistrationVerificationOptions,
    UserHandle16, Username,
};
use webauthn_rp::request::{AsciiDomain, ExtensionInfo, RpId, TimedCeremony};
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication16, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, PublicKeyCredentialCreationOptions, Registration,
    RegistrationServerState,
};

/// Where the request came from, as the browser says it: `scheme://host[:port]`.
pub struct Site {
    rp_id: RpId,
    origin: String,
}

impl Site {
    /// The service as people reach it; an IP address cannot be an RP ID.
    pub fn of(origin: &str) -> Result<Self> {
        let no_name = || ServiceError::Conflict {
            code: "passkeys_unavailable",
            detail: "passkeys need the service to be reached by a host name, not an IP address; \
                     sign in with the password and code"
                .into(),
        };
        let host = origin
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .ok_or_else(no_name)?;
        let host = match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        };
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            return Err(no_name());
        }
        let rp_id = AsciiDomain::try_from(host.to_ascii_lowercase())
            .map(RpId::Domain)
            .map_err(|_| no_name())?;
        Ok(Self {
            rp_id,
            origin: origin.trim_end_matches('/').to_owned(),
        })
    }
}

fn challenge_key(c: webauthn_rp::response::SentChallenge) -> Result<[u8; 16]> {
    Ok(c.encode().map_err(ServiceError::internal)?.to_be_bytes())
}

fn until(t: std::time::SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}

fn refused_passkey(why: impl std::fmt::Display) -> ServiceError {
    tracing::info!(reason = %why, "passkey refused");
    crate::domain::Invalid::new(
        "credential",
        "passkey_refused",
        "this passkey could not be checked; try again, or sign in with the password and code",
    )
    .into()
}

/// Only an account (not a resident's device) holds passkeys: checked before anything else.
pub fn person(p: &Principal) -> Result<(i64, crate::domain::UserId)> {
    match p {
        Principal::User { internal, id, .. } => Ok((*internal, *id)),
        Principal::Resident { .. } => Err(ServiceError::Forbidden),
    }
}

/// Starts adding a passkey to the caller's own account: the options for
/// `navigator.credentials.create` (as `PublicKeyCredentialCreationOptionsJSON`).
pub async fn register_options(ctx: &Ctx, p: &Principal, site: &Site) -> Result<serde_json::Value> {
    let (internal, public_id) = person(p)?;
    let login = passkeys::login_of(&ctx.db, internal)
        .await?
        .ok_or(ServiceError::Conflict {
            code: "no_sign_in",
            detail: "only a person with a sign-in name adds passkeys".into(),
        })?;
    let handle = UserHandle16::from(*public_id.0.as_bytes());
    let user = PublicKeyCredentialUserEntity {
        name: Username::try_from(login.as_str()).map_err(ServiceError::internal)?,
        id: &handle,
        display_name: Nickname::try_from(login.as_str()).ok(),
    };
    let mut creation = PublicKeyCredentialCreationOptions::passkey(&site.rp_id, user, Vec::new());
    // Ask for credProtect, but do not refuse an authenticator without it (many platform ones
    // lack it): every sign-in requires user verification and checks it anyway.
    creation.extensions.cred_protect =
        CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
    let (server, client) = creation.start_ceremony().map_err(ServiceError::internal)?;
    let options = serde_json::to_value(&client).map_err(ServiceError::internal)?;
    let mut tx = ctx.db.begin().await?;
    passkeys::drop_expired_ceremonies(&mut tx, ctx.now()).await?;
    passkeys::insert_ceremony(
        &mut tx,
        &challenge_key(server.sent_challenge())?,
        passkeys::Ceremony::Register,
        Some(internal),
        &server.encode().map_err(ServiceError::internal)?,
        until(server.expiration()),
    )
    .await?;
    tx.commit().await?;
    Ok(options)
}

/// Finishes adding a passkey: `body` is the `PublicKeyCredential.toJSON()` of the new one.
pub async fn register(ctx: &Ctx, p: &Principal, site: &Site, body: &[u8]) -> Result<()> {
    let (internal, _) = person(p)?;
    let now = ctx.now();
    let registration = Registration::from_json_relaxed(body).map_err(refused_passkey)?;
    let challenge = challenge_key(registration.challenge_relaxed().map_err(refused_passkey)?)?;
    let mut tx = ctx.db.begin().await?;
    let state = passkeys::take_ceremony(
        &mut tx,
        &challenge,
        passkeys::Ceremony::Register,
        Some(internal),
        now,
    )
    .await?
    .ok_or_else(|| refused_passkey("no such registration in flight"))?;
    let server =
        RegistrationServerState::<16>::decode(state.as_slice()).map_err(ServiceError::internal)?;
    let origins = [site.origin.as_str()];
    let options = RegistrationVerificationOptions::<&str, &str> {
        allowed_origins: &origins,
        ..RegistrationVerificationOptions::default()
    };
    let credential = server
        .verify(&site.rp_id, &registration, &options)
        .map_err(refused_passkey)?;
    passkeys::insert(
        &mut tx,
        credential.id().as_ref(),
        internal,
        &credential
            .static_state()
            .encode()
            .map_err(ServiceError::internal)?,
        &credential
            .dynamic_state()
            .encode()
            .map_err(ServiceError::internal)?,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "auth.factor_enrolled")
            .subject(p.actor())
            .after(json!({"passkey": "added"})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts a sign-in with a passkey: options for `navigator.credentials.get`.
pub async fn sign_in_options(ctx: &Ctx, site: &Site) -> Result<serde_json::Value> {
    let (server, client) = DiscoverableCredentialRequestOptions::passkey(&site.rp_id)
        .start_ceremony()
        .map_err(ServiceError::internal)?;
    let options = serde_json::to_value(&client).map_err(ServiceError::internal)?;
    let mut tx = ctx.db.begin().await?;
    passkeys::drop_expired_ceremonies(&mut tx, ctx.now()).await?;
    passkeys::insert_ceremony(
        &mut tx,
        &challenge_key(server.sent_challenge())?,
        passkeys::Ceremony::SignIn,
        None,
        &server.encode().map_err(ServiceError::internal)?,
        until(server.expiration()),
    )
    .await?;
    tx.commit().await?;
    Ok(options)
}

type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// Finishes a sign-in with a passkey: a session, as a password and code would give.
pub async fn sign_in(ctx: &Ctx, site: &Site, body: &[u8]) -> Result<sign_in::Session> {
    let now = ctx.now();
    let refused = |why: &dyn std::fmt::Display| {
        tracing::info!(reason = %why, "passkey sign-in refused");
        ServiceError::SignInRefused
    };
    let auth = DiscoverableAuthentication16::from_json_relaxed(body).map_err(|e| refused(&e))?;
    let challenge = challenge_key(auth.challenge_relaxed().map_err(|e| refused(&e))?)?;
    let stored = passkeys::by_credential(&ctx.db, auth.raw_id().as_ref())
        .await?
        .ok_or_else(|| refused(&"unknown credential"))?;
    let mut tx = ctx.db.begin().await?;
    let state = passkeys::take_ceremony(&mut tx, &challenge, passkeys::Ceremony::SignIn, None, now)
        .await?
        .ok_or_else(|| refused(&"no such sign-in in flight"))?;
    let server = DiscoverableAuthenticationServerState::decode(state.as_slice())
        .map_err(ServiceError::internal)?;
    let handle = UserHandle16::from(*stored.public_id.0.as_bytes());
    let static_state = StaticState::<StoredKey>::decode(stored.static_state.as_slice())
        .map_err(ServiceError::internal)?;
    let dynamic: [u8; 7] = stored
        .dynamic_state
        .as_slice()
        .try_into()
        .map_err(ServiceError::internal)?;
    let dynamic_state = DynamicState::decode(dynamic).map_err(ServiceError::internal)?;
    let mut credential =
        AuthenticatedCredential::new(auth.raw_id(), &handle, static_state, dynamic_state)
            .map_err(ServiceError::internal)?;
    let origins = [site.origin.as_str()];
    let options = AuthenticationVerificationOptions::<&str, &str> {
        allowed_origins: &origins,
        ..AuthenticationVerificationOptions::default()
    };
    server
        .verify(&site.rp_id, &auth, &mut credential, &options)
        .map_err(|e| refused(&e))?;
    passkeys::used(
        &mut tx,
        auth.raw_id().as_ref(),
        &credential
            .dynamic_state()
            .encode()
            .map_err(ServiceError::internal)?,
        now,
    )
    .await?;
    let session = sign_in::new_session(
        ctx,
        &mut tx,
        stored.user_id,
        stored.public_id,
        stored.role,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(
            format!("{}:{}", stored.role, stored.public_id),
            "auth.sign_in",
        )
        .after(json!({"factor": "passkey"})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(session)
}
