//! Passwords, second factors, one-time setup links, recovery codes and sign-in failures; the
//! sessions themselves are rows of `access_tokens` (kind `session`), read with every other
//! credential by `users::find_token_holder`.

use super::{Db, Result, Tx};
use crate::domain::{Role, UserId};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

/// An account as sign-in sees it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub public_id: UserId,
    pub role: Role,
    pub password_hash: Option<String>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: i64,
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

const ACCOUNT: &str = "SELECT id, public_id, role, password_hash, totp_secret, totp_last_step, \
     CAST(failed_sign_ins AS BIGINT) AS failed_sign_ins, locked_until FROM users ";

/// The active account with this sign-in name.
pub async fn by_login(db: &Db, login: &str) -> Result<Option<Account>> {
    on_db!(db, |c| {
        // Only constants are spliced in.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ACCOUNT} WHERE login = $1 AND disabled_at IS NULL"
        )))
        .bind(login)
        .fetch_optional(c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Account {
            id: r.try_get("id")?,
            public_id: UserId(r.try_get::<Uuid, _>("public_id")?),
            role: super::users::parse_role(&r.try_get::<String, _>("role")?)?,
            password_hash: r.try_get("password_hash")?,
            totp_secret: r.try_get("totp_secret")?,
            totp_last_step: r.try_get("totp_last_step")?,
            failed_sign_ins: r.try_get("failed_sign_ins")?,
            locked_until: r.try_get("locked_until")?,
        }))
    })
}

/// Counts a failed attempt; from the fifth in a row the account waits `lock(n)` before the
/// next try. Returns the count.
pub async fn record_failure(
    tx: &mut Tx,
    id: i64,
    now: DateTime<Utc>,
    lock: impl Fn(i64) -> Option<chrono::Duration>,
) -> Result<i64> {
    on_tx!(tx, |c| {
        let n: i64 = sqlx::query_scalar(
            "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = $1 \
             RETURNING CAST(failed_sign_ins AS BIGINT)",
        )
        .bind(id)
        .fetch_one(&mut *c)
        .await?;
        if let Some(wait) = lock(n) {
            sqlx::query("UPDATE users SET locked_until = $2 WHERE id = $1")
                .bind(id)
                .bind(now + wait)
                .execute(&mut *c)
                .await?;
        }
        Ok(n)
    })
}

/// A good sign-in: clears the failures and spends the TOTP step, in one statement that
/// succeeds only if the step is later than the last one spent (a code is good once).
pub async fn record_success(tx: &mut Tx, id: i64, step: Option<i64>) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE users SET failed_sign_ins = 0, locked_until = NULL, \
             totp_last_step = COALESCE($2, totp_last_step) \
             WHERE id = $1 AND ($2 IS NULL OR totp_last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Spends one recovery code; false if it is not one of the account's unused codes.
pub async fn use_recovery_code(
    tx: &mut Tx,
    id: i64,
    hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(id)
        .bind(&hash[..])
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// The password, second factor and a fresh set of recovery codes, replacing any before.
pub async fn set_credentials(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    totp_secret: &[u8],
    step: i64,
    recovery: &[[u8; 32]],
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE users SET password_hash = $2, totp_secret = $3, totp_last_step = $4, \
             failed_sign_ins = 0, locked_until = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(password_hash)
        .bind(totp_secret)
        .bind(step)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
        for h in recovery {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(id)
                .bind(&h[..])
                .execute(&mut *c)
                .await?;
        }
        Ok::<_, super::StoreError>(())
    })?;
    Ok(())
}

/// Forgets the password, second factor and recovery codes and ends every session and
/// unused setup link of the account (an admin's reset, a lost phone).
pub async fn reset(tx: &mut Tx, id: i64, by: Option<i64>, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE users SET password_hash = NULL, totp_secret = NULL, failed_sign_ins = 0, \
             locked_until = NULL, reset_by = $2, reset_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(by)
        .bind(now)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 \
             WHERE user_id = $1 AND kind = 'session' AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "UPDATE setup_codes SET used_at = $2, totp_secret = NULL \
             WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
        Ok::<_, super::StoreError>(())
    })?;
    Ok(())
}

pub async fn insert_setup_code(
    tx: &mut Tx,
    hash: &[u8; 32],
    user: i64,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO setup_codes (code_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&hash[..])
        .bind(user)
        .bind(now)
        .bind(expires_at)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// An unused, unexpired setup link: whose it is, and the second-factor secret offered so far.
pub struct Setup {
    pub user_id: i64,
    pub public_id: UserId,
    pub role: Role,
    pub login: String,
    pub totp_secret: Option<Vec<u8>>,
}

pub async fn setup(db: &Db, hash: &[u8; 32], now: DateTime<Utc>) -> Result<Option<Setup>> {
    on_db!(db, |c| {
        let row = sqlx::query(
            "SELECT s.user_id, s.totp_secret, u.public_id, u.role, u.login FROM setup_codes s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.code_hash = $1 AND s.used_at IS NULL AND s.expires_at > $2 \
               AND u.disabled_at IS NULL AND u.login IS NOT NULL",
        )
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Setup {
            user_id: r.try_get("user_id")?,
            public_id: UserId(r.try_get::<Uuid, _>("public_id")?),
            role: super::users::parse_role(&r.try_get::<String, _>("role")?)?,
            login: r.try_get("login")?,
            totp_secret: r.try_get("totp_secret")?,
        }))
    })
}

/// Keeps the secret first offered on a setup link, so a reload shows the same QR code; if
/// two pages race, the first secret stays and both read it back.
pub async fn offer_setup_secret(tx: &mut Tx, hash: &[u8; 32], secret: &[u8]) -> Result<Vec<u8>> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE setup_codes SET totp_secret = $2 WHERE code_hash = $1 AND totp_secret IS NULL",
        )
        .bind(&hash[..])
        .bind(secret)
        .execute(&mut *c)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT totp_secret FROM setup_codes WHERE code_hash = $1")
                .bind(&hash[..])
                .fetch_one(&mut *c)
                .await?,
        )
    })
}

/// Spends a setup link; false if it was spent (or expired) meanwhile.
pub async fn spend_setup_code(tx: &mut Tx, hash: &[u8; 32], now: DateTime<Utc>) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            // The secret moves to the account; no second copy stays behind.
            "UPDATE setup_codes SET used_at = $2, totp_secret = NULL \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(&hash[..])
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// The account a sign-in name belongs to (for the CLI's reset), active or not.
pub async fn id_of_login(db: &Db, login: &str) -> Result<Option<(i64, UserId, Role)>> {
    on_db!(db, |c| {
        let row = sqlx::query(
            "SELECT id, public_id, role FROM users WHERE login = $1 AND disabled_at IS NULL",
        )
        .bind(login)
        .fetch_optional(c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some((
            r.try_get("id")?,
            UserId(r.try_get::<Uuid, _>("public_id")?),
            super::users::parse_role(&r.try_get::<String, _>("role")?)?,
        )))
    })
}

/// The account behind a public id, for an admin's reset.
pub async fn id_of_user(db: &Db, user: UserId) -> Result<Option<(i64, Role, bool)>> {
    on_db!(db, |c| {
        let row = sqlx::query(
            "SELECT id, role, login IS NOT NULL AS has_login FROM users \
             WHERE public_id = $1 AND disabled_at IS NULL",
        )
        .bind(user.0)
        .fetch_optional(c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some((
            r.try_get("id")?,
            super::users::parse_role(&r.try_get::<String, _>("role")?)?,
            r.try_get("has_login")?,
        )))
    })
}
