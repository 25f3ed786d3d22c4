//! Users (staff, officials, admins) and the bearer tokens of users and residents.

use super::{Db, Result, Tx};
use crate::domain::{Role, UserId};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;

pub struct NewUserRow<'a> {
    pub public_id: UserId,
    pub role: Role,
    pub name: &'a str,
    pub jurisdiction: Option<serde_json::Value>,
    pub shelters: &'a [Uuid],
    /// The account that created this one; `None` for the operator (command line, first start).
    pub created_by: Option<i64>,
    /// A person's sign-in name (password and second factor follow through a setup link).
    pub login: Option<&'a str>,
    /// A desk phone: the one shelter it serves.
    pub device_shelter: Option<Uuid>,
    pub now: DateTime<Utc>,
}

/// A stored `users.role`; anything else means the row was written by something other than us.
pub(super) fn parse_role(raw: &str) -> Result<Role> {
    raw.parse()
        .map_err(|_| super::StoreError::Corrupt("unknown role in users.role".into()))
}

/// How a credential travels, which decides which kinds of token it may be: a page session
/// only in its cookie (so a stolen cookie value is no bearer token, and a bearer token set as
/// a cookie is no session), bearer tokens and desk devices only in `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Header,
    Cookie,
}

/// The kind of a stored credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Bearer,
    Session,
    Device,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Bearer => "bearer",
            TokenKind::Session => "session",
            TokenKind::Device => "device",
        }
    }
}

/// Whose token it is.
#[derive(Debug, Clone, Copy)]
pub enum TokenOwner {
    User(i64),
    Resident(i64),
}

/// What a valid, unrevoked token resolves to.
#[derive(Debug, Clone)]
pub enum TokenHolder {
    User {
        id: i64,
        public_id: Uuid,
        role: Role,
        shelters: Vec<Uuid>,
        jurisdiction: Option<serde_json::Value>,
    },
    Resident {
        id: i64,
        public_id: Uuid,
    },
}

pub async fn insert_user(tx: &mut Tx, u: &NewUserRow<'_>) -> Result<i64> {
    on_tx!(tx, |c| {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (public_id, role, name, jurisdiction, created_at, created_by, \
             login, device_shelter) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(u.public_id.0)
        .bind(u.role.as_str())
        .bind(u.name)
        .bind(u.jurisdiction.clone().map(Json))
        .bind(u.now)
        .bind(u.created_by)
        .bind(u.login)
        .bind(u.device_shelter)
        .fetch_one(&mut *c)
        .await?;
        for s in u.shelters {
            sqlx::query(
                "INSERT INTO user_shelters (user_id, shelter_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(*s)
            .execute(&mut *c)
            .await?;
        }
        Ok(id)
    })
}

pub async fn insert_token(
    tx: &mut Tx,
    hash: &[u8; 32],
    owner: TokenOwner,
    now: DateTime<Utc>,
) -> Result<()> {
    insert_credential(tx, hash, owner, TokenKind::Bearer, None, now).await
}

/// A credential of any kind; `expires_at` ends it whatever else happens.
pub async fn insert_credential(
    tx: &mut Tx,
    hash: &[u8; 32],
    owner: TokenOwner,
    kind: TokenKind,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (user, resident) = match owner {
        TokenOwner::User(id) => (Some(id), None),
        TokenOwner::Resident(id) => (None, Some(id)),
    };
    on_tx!(tx, |c| {
        // A replayed registration re-derives the same token: nothing new to store then.
        sqlx::query(
            "INSERT INTO access_tokens \
             (token_hash, user_id, resident_id, created_at, kind, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $4) ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(&hash[..])
        .bind(user)
        .bind(resident)
        .bind(now)
        .bind(kind.as_str())
        .bind(expires_at)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// A live credential: its holder, its kind, and when it was last used (`None`: never recorded).
pub struct Found {
    pub holder: TokenHolder,
    pub kind: TokenKind,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The holder of a credential that is unrevoked, unexpired, of a kind its carrier may carry,
/// and (a session) used since `idle_since`.
pub async fn find_token_holder(
    db: &Db,
    hash: &[u8; 32],
    carrier: Carrier,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> Result<Option<Found>> {
    let kinds = match carrier {
        Carrier::Header => "t.kind IN ('bearer', 'device')",
        Carrier::Cookie => "t.kind = 'session' AND t.last_used_at > $3",
    };
    on_db!(db, |c| {
        // `kinds` is one of two constants above.
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.user_id, t.resident_id, t.kind, t.last_used_at, \
                    u.public_id AS user_public_id, u.role, u.jurisdiction, \
                    r.public_id AS resident_public_id \
             FROM access_tokens t \
             LEFT JOIN users u ON u.id = t.user_id AND u.disabled_at IS NULL \
             LEFT JOIN residents r ON r.id = t.resident_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
               AND (t.expires_at IS NULL OR t.expires_at > $2) AND {kinds}"
        )))
        .bind(&hash[..])
        .bind(now);
        let q = match carrier {
            Carrier::Cookie => q.bind(idle_since),
            Carrier::Header => q,
        };
        let row = q.fetch_optional(c).await?;
        let Some(row) = row else { return Ok(None) };
        let kind = match row.try_get::<String, _>("kind")?.as_str() {
            "session" => TokenKind::Session,
            "device" => TokenKind::Device,
            _ => TokenKind::Bearer,
        };
        let last_used_at: Option<DateTime<Utc>> = row.try_get("last_used_at")?;
        let found = |holder| {
            Ok(Some(Found {
                holder,
                kind,
                last_used_at,
            }))
        };
        if let Some(id) = row.try_get::<Option<i64>, _>("user_id")? {
            let Some(public_id) = row.try_get::<Option<Uuid>, _>("user_public_id")? else {
                return Ok(None); // the user is disabled
            };
            let role = parse_role(&row.try_get::<String, _>("role")?)?;
            let jurisdiction = row
                .try_get::<Option<Json<serde_json::Value>>, _>("jurisdiction")?
                .map(|j| j.0);
            let shelters: Vec<Uuid> = if role == Role::Staff {
                sqlx::query_scalar("SELECT shelter_id FROM user_shelters WHERE user_id = $1")
                    .bind(id)
                    .fetch_all(c)
                    .await?
            } else {
                Vec::new()
            };
            return found(TokenHolder::User {
                id,
                public_id,
                role,
                shelters,
                jurisdiction,
            });
        }
        match (
            row.try_get::<Option<i64>, _>("resident_id")?,
            row.try_get::<Option<Uuid>, _>("resident_public_id")?,
        ) {
            (Some(id), Some(public_id)) => found(TokenHolder::Resident { id, public_id }),
            _ => Ok(None),
        }
    })
}

/// Records that a credential was used now (a session's idle clock, a device's "last seen").
pub async fn touch_token(tx: &mut Tx, hash: &[u8; 32], now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE access_tokens SET last_used_at = $2 WHERE token_hash = $1")
            .bind(&hash[..])
            .bind(now)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Disables a user and revokes all their tokens. Returns the user's role, or `None` if there
/// is no such active user.
pub async fn disable_user(
    tx: &mut Tx,
    public_id: UserId,
    now: DateTime<Utc>,
) -> Result<Option<Role>> {
    on_tx!(tx, |c| {
        let row = sqlx::query(
            "UPDATE users SET disabled_at = $2 WHERE public_id = $1 AND disabled_at IS NULL \
             RETURNING id, role",
        )
        .bind(public_id.0)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        let role: String = row.try_get("role")?;
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
        Ok(role.parse().ok())
    })
}

/// Revokes every token a resident holds (their record was taken back or retired).
pub async fn revoke_resident_tokens(
    tx: &mut Tx,
    resident_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE resident_id = $1 AND revoked_at IS NULL",
        )
        .bind(resident_id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    }))
}

/// Revokes one token (sign-out).
pub async fn revoke_token(tx: &mut Tx, hash: &[u8; 32], now: DateTime<Utc>) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash[..])
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Active admins left, so that the last one cannot be disabled by mistake.
pub async fn count_active_admins(tx: &mut Tx) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(c)
        .await?
    }))
}

/// Where an account came from, for the rule that two accounts of one person are not two
/// officials: when it was created and by which account (`None`: by the operator).
#[derive(Debug, Clone, Copy)]
pub struct Provenance {
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    /// The account that last reset this one's sign-in (and so held its setup link), and when.
    pub reset_by: Option<i64>,
    pub reset_at: Option<DateTime<Utc>>,
}

pub async fn provenance(db: &Db, user_id: i64) -> Result<Option<Provenance>> {
    on_db!(db, |c| {
        let row = sqlx::query(
            "SELECT created_at, created_by, reset_by, reset_at FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(c)
        .await?;
        row.map(|r| -> Result<Provenance> {
            Ok(Provenance {
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                reset_by: r.try_get("reset_by")?,
                reset_at: r.try_get("reset_at")?,
            })
        })
        .transpose()
    })
}
