//! People sign in to `/ops` with a sign-in name, a password (Argon2id) and a second factor
//! (TOTP, RFC 6238, or a recovery code). A good sign-in makes a session: a server-side row
//! (`access_tokens`, kind `session`) whose random token travels only in a cookie, ended by
//! sign-out, a disabled account, an idle timeout or its absolute lifetime, on every server at
//! once since every request reads the row.
//!
//! A new account (or one an admin reset) gets a one-time setup link instead of a password:
//! its holder chooses a password and enrols an authenticator app, proving it with one code,
//! and is shown recovery codes once.
//!
//! Guessing is bounded twice: per client address (`http::rate_limit`, `sign_in_per_ip`) and
//! per account: from the fifth wrong second factor in a row after the right password, the
//! account waits 30 s, doubling to at most 5 min. A wrong password never locks and never
//! says "locked", so a stranger can neither lock an official out nor learn that the name
//! exists; while an account waits, its owner still gets in with a recovery code (80 random
//! bits, not guessable).

use super::tokens::{self, BearerToken};
use super::{Ctx, Principal, Result, ServiceError};
use crate::domain::credentials::{self, Login, Password, SecondFactor};
use crate::domain::{AuditDraft, Invalid, Role, UserId};
use crate::store::{self, audit, credentials as store_creds, users};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use std::sync::LazyLock;

/// Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 20 ms here
/// in a release build, and memory-hard against a copied database on GPUs.
fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// A hash to check against when there is no account, so that "no such name" takes as long as
/// "wrong password" and says no more.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not a real password, only for timing").unwrap_or_default());

fn hash_blocking(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(ServiceError::internal)?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(ServiceError::internal)?
        .to_string())
}

/// Hashing takes tens of milliseconds of CPU: off the request threads.
async fn hash_password(password: &Password) -> Result<String> {
    let p = password.as_str().to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&p))
        .await
        .map_err(ServiceError::internal)?
}

async fn password_matches(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let real = PasswordHash::new(&stored)
            .is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok());
        real && stored != *DUMMY_HASH
    })
    .await
    .unwrap_or(false)
}

/// The six digits an authenticator shows for `secret` in time step `step`.
pub fn totp_at(secret: &[u8], step: i64) -> String {
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        credentials::TOTP_STEP_SECS as u64,
        secret.to_vec(),
    );
    totp.generate(u64::try_from(step * credentials::TOTP_STEP_SECS).unwrap_or(0))
}

/// The step whose code `code` is, among those around `now` and later than `after`.
fn totp_step(secret: &[u8], code: &str, now: DateTime<Utc>, after: i64) -> Option<i64> {
    credentials::totp_steps_around(now.timestamp())
        .into_iter()
        .filter(|s| *s > after)
        .find(|s| constant_time_eq(totp_at(secret, *s).as_bytes(), code.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn lock_for(failures: i64) -> Option<Duration> {
    (failures >= 5).then(|| Duration::seconds((30i64 << (failures - 5).min(4)).min(300)))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInForm {
    pub login: String,
    pub password: String,
    /// Six digits from the authenticator app, or one recovery code.
    pub code: String,
}

/// A new session: its token goes into the cookie and nowhere else.
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserId,
    pub role: Role,
}

pub(crate) async fn new_session(
    ctx: &Ctx,
    tx: &mut store::Tx,
    user_id: i64,
    user: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Session> {
    let token = BearerToken::random();
    let expires_at = now + Duration::hours(i64::from(ctx.sessions.lifetime_hours));
    users::insert_credential(
        tx,
        &token.hash(),
        users::TokenOwner::User(user_id),
        users::TokenKind::Session,
        Some(expires_at),
        now,
    )
    .await?;
    Ok(Session {
        token: token.into_string(),
        expires_at,
        user,
        role,
    })
}

fn refused() -> ServiceError {
    ServiceError::SignInRefused
}

pub async fn sign_in(ctx: &Ctx, form: &SignInForm) -> Result<Session> {
    let now = ctx.now();
    let factor = SecondFactor::parse(&form.code);
    let account = match Login::parse(&form.login) {
        Ok(login) => store_creds::by_login(&ctx.db, login.as_str()).await?,
        Err(_) => None,
    };
    // The same Argon2 work whatever the name: known, unknown, locked or not.
    let password_ok = password_matches(
        account.as_ref().and_then(|a| a.password_hash.clone()),
        form.password.clone(),
    )
    .await;
    let mut tx = ctx.db.begin().await?;
    let Some(account) = account.filter(|_| password_ok) else {
        // A wrong password says nothing more and locks nothing: without the password nobody
        // can lock an account or learn that it is locked.
        audit::append(
            &mut tx,
            &AuditDraft::new("anonymous", "auth.sign_in_failed")
                .after(json!({"stage": "password"})),
            now,
        )
        .await?;
        tx.commit().await?;
        return Err(refused());
    };
    let actor = format!("{}:{}", account.role, account.public_id);
    // The password is right: from here on the second factor is what could be guessed.
    let locked = account.locked_until.filter(|until| *until > now);
    if let Some(until) = locked
        && !matches!(factor, Some(SecondFactor::Recovery(_)))
    {
        tx.rollback().await?;
        return Err(ServiceError::Locked {
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        });
    }
    let second = match (&factor, &account.totp_secret) {
        (Some(SecondFactor::Totp(code)), Some(secret)) => {
            totp_step(secret, code, now, account.totp_last_step).map(|step| (Some(step), "totp"))
        }
        (Some(SecondFactor::Recovery(code)), Some(_)) => {
            let hash = tokens::hash(code);
            store_creds::use_recovery_code(&mut tx, account.id, &hash, now)
                .await?
                .then_some((None, "recovery_code"))
        }
        _ => None,
    };
    let Some((step, factor_used)) = second else {
        let n = store_creds::record_failure(&mut tx, account.id, now, lock_for).await?;
        // The right password with a wrong code: worth an official's attention (the password
        // may be known to someone else).
        audit::append(
            &mut tx,
            &AuditDraft::new("anonymous", "auth.sign_in_failed")
                .subject(&actor)
                .after(json!({"stage": "second_factor", "failures_in_a_row": n})),
            now,
        )
        .await?;
        tx.commit().await?;
        return Err(refused());
    };
    // Spends the step in the same statement that checks it: a code read over a shoulder
    // cannot be used a second time, even on another server at the same moment.
    if !store_creds::record_success(&mut tx, account.id, step).await? {
        tx.rollback().await?;
        return Err(refused());
    }
    let session = new_session(
        ctx,
        &mut tx,
        account.id,
        account.public_id,
        account.role,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(&actor, "auth.sign_in").after(json!({"factor": factor_used})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(session)
}

/// Ends the session whose token the cookie carried.
pub async fn sign_out(ctx: &Ctx, p: &Principal, token: &str) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    users::revoke_token(&mut tx, &tokens::hash(token), now).await?;
    audit::append(&mut tx, &AuditDraft::new(p.actor(), "auth.sign_out"), now).await?;
    tx.commit().await?;
    ctx.principals.clear();
    Ok(())
}

/// A one-time link to choose a password and enrol a second factor.
pub struct SetupLink {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

impl SetupLink {
    /// Where the link points: the officials' page, with the code in the fragment (never sent
    /// to a server, never in a log).
    pub fn url(&self, base: &str) -> String {
        format!("{base}/ops#setup={}", self.code)
    }
}

pub const SETUP_VALID_HOURS: i64 = 24;

/// Issues a setup link for an account, ending any earlier unused one.
pub async fn issue_setup_link(
    tx: &mut store::Tx,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<SetupLink> {
    let code = BearerToken::random().into_string();
    let expires_at = now + Duration::hours(SETUP_VALID_HOURS);
    store_creds::insert_setup_code(tx, &tokens::hash(&code), user_id, now, expires_at).await?;
    Ok(SetupLink { code, expires_at })
}

/// What the setup page shows: whose account, and the secret for the authenticator app as a
/// QR code (an `otpauth://` URI every authenticator reads) and as text to type.
pub struct SetupOffer {
    pub login: String,
    pub role: Role,
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

fn otpauth_uri(login: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/safecode:{login}?secret={secret_b32}&issuer=safecode&algorithm=SHA1&digits=6&period={}",
        credentials::TOTP_STEP_SECS
    )
}

fn base32(secret: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret)
}

fn setup_gone() -> ServiceError {
    ServiceError::Conflict {
        code: "setup_link_invalid",
        detail: "this setup link was used, has expired or was replaced; ask an admin for a new one"
            .into(),
    }
}

pub async fn setup_offer(ctx: &Ctx, code: &str) -> Result<SetupOffer> {
    let hash = tokens::hash(code.trim());
    let setup = store_creds::setup(&ctx.db, &hash, ctx.now())
        .await?
        .ok_or_else(setup_gone)?;
    let secret = match setup.totp_secret {
        Some(s) => s,
        None => {
            let mut tx = ctx.db.begin().await?;
            let s = store_creds::offer_setup_secret(&mut tx, &hash, &random_bytes::<20>()).await?;
            tx.commit().await?;
            s
        }
    };
    let secret = base32(&secret);
    let uri = otpauth_uri(&setup.login, &secret);
    Ok(SetupOffer {
        qr_svg: crate::qr::svg(&uri).map_err(ServiceError::internal)?,
        login: setup.login,
        role: setup.role,
        secret,
        otpauth_uri: uri,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupForm {
    /// The code from the setup link.
    pub setup_code: String,
    pub password: String,
    /// Six digits from the authenticator app, to prove it was enrolled.
    pub code: String,
}

/// Sets the password and second factor, spends the link, and signs in. The recovery codes
/// are returned once; only their hashes are kept.
pub async fn setup_finish(ctx: &Ctx, form: &SetupForm) -> Result<(Session, Vec<String>)> {
    let now = ctx.now();
    let hash = tokens::hash(form.setup_code.trim());
    let setup = store_creds::setup(&ctx.db, &hash, now)
        .await?
        .ok_or_else(setup_gone)?;
    let login = Login::parse(&setup.login)?;
    let password = Password::parse(&form.password, &login)?;
    let Some(secret) = setup.totp_secret else {
        return Err(Invalid::new(
            "code",
            "no_authenticator",
            "open the setup link first to show the authenticator QR code",
        )
        .into());
    };
    let step = match SecondFactor::parse(&form.code) {
        Some(SecondFactor::Totp(c)) => totp_step(&secret, &c, now, 0),
        _ => None,
    }
    .ok_or_else(|| {
        Invalid::new(
            "code",
            "wrong_code",
            "that is not the code the authenticator app shows now; check the phone's clock",
        )
    })?;
    let password_hash = hash_password(&password).await?;
    let recovery: Vec<String> = (0..10).map(|_| recovery_code()).collect();
    let hashes: Vec<[u8; 32]> = recovery.iter().map(|c| tokens::hash(c)).collect();
    let mut tx = ctx.db.begin().await?;
    if !store_creds::spend_setup_code(&mut tx, &hash, now).await? {
        tx.rollback().await?;
        return Err(setup_gone());
    }
    store_creds::set_credentials(
        &mut tx,
        setup.user_id,
        &password_hash,
        &secret,
        step,
        &hashes,
    )
    .await?;
    let actor = format!("{}:{}", setup.role, setup.public_id);
    audit::append(
        &mut tx,
        &AuditDraft::new(&actor, "auth.factor_enrolled")
            .subject(&actor)
            .after(json!({"password": "set", "totp": "enrolled", "recovery_codes": hashes.len()})),
        now,
    )
    .await?;
    let session = new_session(
        ctx,
        &mut tx,
        setup.user_id,
        setup.public_id,
        setup.role,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        session,
        recovery.iter().map(|c| credentials::grouped(c)).collect(),
    ))
}

fn recovery_code() -> String {
    let alphabet = credentials::RECOVERY_ALPHABET.as_bytes();
    let mut out = String::with_capacity(credentials::RECOVERY_CHARS);
    while out.len() < credentials::RECOVERY_CHARS {
        let b = random_bytes::<1>()[0] as usize;
        // Rejection sampling: no character more likely than another.
        if b < 256 - 256 % alphabet.len() {
            out.push(alphabet[b % alphabet.len()] as char);
        }
    }
    out
}

/// Who resets an account: an admin through the API, or the operator at the command line.
pub enum Resetter<'a> {
    Admin(&'a Principal),
    Operator,
}

/// Forgets an account's password and second factor, ends its sessions and returns a new
/// setup link (a lost phone, a forgotten password, a first admin made at the command line).
pub async fn reset(ctx: &Ctx, by: Resetter<'_>, target: UserId) -> Result<SetupLink> {
    let (actor, by_id) = match by {
        Resetter::Admin(p) => {
            super::authz::authorize(p, super::Action::CreateUser)?;
            let Principal::User { internal, .. } = p else {
                return Err(ServiceError::Forbidden);
            };
            (p.actor(), Some(*internal))
        }
        Resetter::Operator => ("operator".to_owned(), None),
    };
    let (id, role, has_login) = store_creds::id_of_user(&ctx.db, target)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    if !has_login {
        return Err(ServiceError::Conflict {
            code: "no_sign_in",
            detail: "this account signs in with a bearer token, not a password".into(),
        });
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    store_creds::reset(&mut tx, id, by_id, now).await?;
    let link = issue_setup_link(&mut tx, id, now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(actor, "auth.reset").subject(format!("{role}:{target}")),
        now,
    )
    .await?;
    tx.commit().await?;
    ctx.principals.clear();
    Ok(link)
}

/// The account behind a sign-in name, for the command line.
pub async fn user_of_login(ctx: &Ctx, login: &str) -> Result<UserId> {
    let login = Login::parse(login)?;
    store_creds::id_of_login(&ctx.db, login.as_str())
        .await?
        .map(|(_, u, _)| u)
        .ok_or(ServiceError::NotFound("user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits there; the
        // last six digits of each are what a 6-digit authenticator shows.
        let secret = b"12345678901234567890";
        for (t, eight) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(totp_at(secret, t / 30), eight[2..], "T = {t}");
        }
    }

    #[test]
    fn a_code_counts_once_and_only_near_now() {
        let secret = [7u8; 20];
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let step = now.timestamp() / 30;
        let code = totp_at(&secret, step);
        assert_eq!(totp_step(&secret, &code, now, 0), Some(step));
        assert_eq!(totp_step(&secret, &code, now, step), None, "spent");
        let old = totp_at(&secret, step - 3);
        assert_eq!(totp_step(&secret, &old, now, 0), None, "too old");
    }

    #[test]
    fn the_lock_starts_at_five_failures_and_stays_short() {
        assert_eq!(lock_for(4), None);
        assert_eq!(lock_for(5), Some(Duration::seconds(30)));
        assert_eq!(lock_for(6), Some(Duration::seconds(60)));
        assert_eq!(lock_for(50), Some(Duration::seconds(300)));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            argon2()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(argon2().verify_password(b"wrong", &parsed).is_err());
        let codes: std::collections::HashSet<String> = (0..50).map(|_| recovery_code()).collect();
        assert_eq!(codes.len(), 50);
        assert!(
            codes
                .iter()
                .all(|c| SecondFactor::parse(c) == Some(SecondFactor::Recovery(c.clone())))
        );
    }
}
