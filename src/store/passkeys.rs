//! WebAuthn credentials (passkeys) and the ceremonies in flight. What a credential holds is
//! opaque here: `webauthn_rp` encodes and decodes it.

use super::{Db, Result, Tx};
use crate::domain::{Role, UserId};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    Register,
    SignIn,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::SignIn => "sign_in",
        }
    }
}

pub async fn insert_ceremony(
    tx: &mut Tx,
    challenge: &[u8; 16],
    kind: Ceremony,
    user: Option<i64>,
    state: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO passkey_ceremonies (challenge, kind, user_id, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&challenge[..])
        .bind(kind.as_str())
        .bind(user)
        .bind(state)
        .bind(expires_at)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Takes a ceremony in flight, once: two answers to one challenge get one state between them.
/// A registration is only taken by the account that started it.
pub async fn take_ceremony(
    tx: &mut Tx,
    challenge: &[u8; 16],
    kind: Ceremony,
    user: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<Vec<u8>>> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
            "DELETE FROM passkey_ceremonies \
             WHERE challenge = $1 AND kind = $2 AND expires_at > $3 \
               AND (user_id = $4 OR ($4 IS NULL AND user_id IS NULL)) \
             RETURNING state",
        )
        .bind(&challenge[..])
        .bind(kind.as_str())
        .bind(now)
        .bind(user)
        .fetch_optional(c)
        .await?
    }))
}

/// Ceremonies nobody finished.
pub async fn drop_expired_ceremonies(tx: &mut Tx, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(c)
            .await?;
    });
    Ok(())
}

pub async fn insert(
    tx: &mut Tx,
    credential_id: &[u8],
    user: i64,
    static_state: &[u8],
    dynamic_state: &[u8],
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO passkeys (credential_id, user_id, static_state, dynamic_state, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(credential_id)
        .bind(user)
        .bind(static_state)
        .bind(dynamic_state)
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// A passkey and the active account it signs in.
pub struct Stored {
    pub user_id: i64,
    pub public_id: UserId,
    pub role: Role,
    pub static_state: Vec<u8>,
    pub dynamic_state: Vec<u8>,
}

pub async fn by_credential(db: &Db, credential_id: &[u8]) -> Result<Option<Stored>> {
    on_db!(db, |c| {
        let row = sqlx::query(
            "SELECT p.user_id, u.public_id, u.role, p.static_state, p.dynamic_state \
             FROM passkeys p JOIN users u ON u.id = p.user_id \
             WHERE p.credential_id = $1 AND u.disabled_at IS NULL",
        )
        .bind(credential_id)
        .fetch_optional(c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Stored {
            user_id: r.try_get("user_id")?,
            public_id: UserId(r.try_get::<Uuid, _>("public_id")?),
            role: super::users::parse_role(&r.try_get::<String, _>("role")?)?,
            static_state: r.try_get("static_state")?,
            dynamic_state: r.try_get("dynamic_state")?,
        }))
    })
}

pub async fn used(
    tx: &mut Tx,
    credential_id: &[u8],
    dynamic_state: &[u8],
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE passkeys SET dynamic_state = $2, last_used_at = $3 WHERE credential_id = $1",
        )
        .bind(credential_id)
        .bind(dynamic_state)
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// The sign-in name of an account (a passkey names its account by it).
pub async fn login_of(db: &Db, user: i64) -> Result<Option<String>> {
    Ok(on_db!(db, |c| {
        sqlx::query_scalar("SELECT login FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(c)
            .await?
            .flatten()
    }))
}
