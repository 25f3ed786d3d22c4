//! Staff, officials and admins: creation (API, CLI, first start) and disabling.

use super::tokens::BearerToken;
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::credentials::Login;
use crate::domain::user::Jurisdiction;
use crate::domain::{AuditDraft, Invalid, Role, UserId, UserName};
use crate::store::{self, audit, meta, users};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserForm {
    pub role: String,
    pub name: String,
    #[serde(default)]
    pub shelter_ids: Vec<Uuid>,
    /// A GeoJSON Polygon or MultiPolygon; without one an official acts everywhere.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jurisdiction: Option<serde_json::Value>,
    /// A person's sign-in name: they then sign in with a password and a second factor, set
    /// through a one-time setup link, and get no bearer token. Without it the account is for
    /// a machine (a gateway, a script) and gets a bearer token.
    #[serde(default)]
    pub login: Option<String>,
}

pub struct CreatedUser {
    pub user_id: UserId,
    /// A machine's bearer token, shown once.
    pub token: Option<String>,
    /// A person's one-time setup link.
    pub setup: Option<super::sign_in::SetupLink>,
}

/// Who asks: a signed-in admin, or the operator at the command line / first start.
pub enum Creator<'a> {
    Principal(&'a Principal),
    Operator,
}

struct ValidUser {
    role: Role,
    name: UserName,
    shelters: Vec<Uuid>,
    jurisdiction: Option<Jurisdiction>,
    login: Option<Login>,
}

fn parse(form: &NewUserForm) -> Result<ValidUser, Invalid> {
    let role: Role = form.role.parse().map_err(|_| {
        Invalid::new(
            "role",
            "invalid_role",
            "role must be staff, official, admin or gateway",
        )
    })?;
    if role == Role::Resident {
        return Err(Invalid::new(
            "role",
            "invalid_role",
            "residents register themselves (POST /v1/residents); users are staff, official, admin or gateway",
        ));
    }
    let name = UserName::parse(&form.name)?;
    if role != Role::Staff && !form.shelter_ids.is_empty() {
        return Err(Invalid::new(
            "shelter_ids",
            "invalid_shelters",
            "only staff are bound to shelters",
        ));
    }
    if form.shelter_ids.len() > 100 {
        return Err(Invalid::new(
            "shelter_ids",
            "invalid_shelters",
            "at most 100 shelters",
        ));
    }
    let jurisdiction = match &form.jurisdiction {
        None | Some(serde_json::Value::Null) => None,
        Some(_) if role != Role::Official => {
            return Err(Invalid::new(
                "jurisdiction",
                "invalid_jurisdiction",
                "only officials have a jurisdiction",
            ));
        }
        Some(v) => Some(Jurisdiction::parse(v)?),
    };
    let login = match &form.login {
        None => None,
        Some(_) if role == Role::Gateway => {
            return Err(Invalid::new(
                "login",
                "invalid_login",
                "a gateway is a machine: it signs in with a bearer token",
            ));
        }
        Some(l) => Some(Login::parse(l)?),
    };
    let mut shelters = form.shelter_ids.clone();
    shelters.sort();
    shelters.dedup();
    Ok(ValidUser {
        role,
        name,
        shelters,
        jurisdiction,
        login,
    })
}

pub async fn create(ctx: &Ctx, creator: Creator<'_>, form: &NewUserForm) -> Result<CreatedUser> {
    let (actor, created_by) = match creator {
        Creator::Principal(p) => {
            authz::authorize(p, Action::CreateUser)?;
            let Principal::User { internal, .. } = p else {
                return Err(ServiceError::Forbidden);
            };
            (p.actor(), Some(*internal))
        }
        Creator::Operator => ("operator".to_owned(), None),
    };
    let u = parse(form)?;
    let mut tx = ctx.db.begin().await?;
    let created = insert(ctx, &mut tx, &u, &actor, created_by).await?;
    tx.commit().await?;
    Ok(created)
}

async fn insert(
    ctx: &Ctx,
    tx: &mut store::Tx,
    u: &ValidUser,
    actor: &str,
    created_by: Option<i64>,
) -> Result<CreatedUser> {
    let now = ctx.now();
    let user_id = UserId::random();
    let id = users::insert_user(
        tx,
        &users::NewUserRow {
            public_id: user_id,
            role: u.role,
            name: u.name.as_str(),
            jurisdiction: u.jurisdiction.as_ref().map(Jurisdiction::to_json),
            shelters: &u.shelters,
            created_by,
            login: u.login.as_ref().map(Login::as_str),
            device_shelter: None,
            now,
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Db(ref d) if store::is_unique_violation(d) => ServiceError::Conflict {
            code: "login_taken",
            detail: "another account has this sign-in name".into(),
        },
        e => e.into(),
    })?;
    let (token, setup) = if u.login.is_some() {
        (
            None,
            Some(super::sign_in::issue_setup_link(tx, id, now).await?),
        )
    } else {
        let token = BearerToken::random();
        users::insert_token(tx, &token.hash(), users::TokenOwner::User(id), now).await?;
        (Some(token.into_string()), None)
    };
    audit::append(
        tx,
        &AuditDraft::new(actor, "user.create")
            .subject(format!("{}:{user_id}", u.role))
            .after(json!({
                "role": u.role,
                "shelters": u.shelters,
                // The district's bounding box: enough to see whose people an account reads.
                "jurisdiction": u.jurisdiction.as_ref().map(|j| {
                    let b = j.area().bbox;
                    [b.min().x, b.min().y, b.max().x, b.max().y]
                }),
                "signs_in_with": if setup.is_some() { "password" } else { "token" },
            })),
        now,
    )
    .await?;
    Ok(CreatedUser {
        user_id,
        token,
        setup,
    })
}

/// On first start: creates the first admin and returns their token, once per database, even
/// when several servers start together.
pub async fn bootstrap_admin(ctx: &Ctx) -> Result<Option<CreatedUser>> {
    let mut tx = ctx.db.begin().await?;
    if !meta::claim(&mut tx, "bootstrap_admin", &ctx.now().to_rfc3339()).await? {
        return Ok(None);
    }
    let admin = ValidUser {
        role: Role::Admin,
        name: UserName::parse("first admin")?,
        shelters: Vec::new(),
        jurisdiction: None,
        login: None,
    };
    let created = insert(ctx, &mut tx, &admin, "system", None).await?;
    tx.commit().await?;
    Ok(Some(created))
}

/// Disables a user and revokes their tokens. The last admin cannot be disabled.
pub async fn disable(
    ctx: &Ctx,
    p: &Principal,
    target: UserId,
    reason: Option<String>,
) -> Result<()> {
    authz::authorize(p, Action::DisableUser)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let role = users::disable_user(&mut tx, target, now)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    if role == Role::Admin && users::count_active_admins(&mut tx).await? == 0 {
        return Err(ServiceError::Conflict {
            code: "last_admin",
            detail: "the last active admin cannot be disabled".into(),
        });
    }
    let mut draft = AuditDraft::new(p.actor(), "user.disable").subject(format!("{role}:{target}"));
    if let Some(r) = reason {
        draft = draft.reason(r);
    }
    audit::append(&mut tx, &draft, now).await?;
    tx.commit().await?;
    ctx.principals.clear();
    Ok(())
}

/// Revokes the caller's own token (sign-out).
pub async fn sign_out(ctx: &Ctx, token: &str) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    users::revoke_token(&mut tx, &super::tokens::hash(token), ctx.now()).await?;
    tx.commit().await?;
    ctx.principals.clear();
    Ok(())
}

/// A credential's "last used" is written at most this often (a session's idle clock, a
/// device's "last seen" on /ops): not a write per request.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Resolves a credential to its holder: a bearer token or desk device from the
/// `Authorization` header, or a page session from its cookie.
pub async fn authenticate(ctx: &Ctx, token: &str, carrier: users::Carrier) -> Result<Principal> {
    // Tokens we issue are "sc_" + 43 characters; anything else cannot match a stored hash.
    if token.len() > 100 {
        return Err(ServiceError::Unauthenticated);
    }
    let hash = super::tokens::hash(token);
    // Sessions are read every time, so a sign-out or a disabled account ends them on every
    // server at once; officials' requests are few. Bearer tokens and desks are remembered
    // for a moment (the shelter door is the busy path).
    let cached = carrier == users::Carrier::Header;
    if cached && let Some(p) = ctx.principals.get(&hash) {
        return Ok(p);
    }
    let now = ctx.now();
    let idle = chrono::Duration::minutes(i64::from(ctx.sessions.idle_minutes));
    let found = users::find_token_holder(&ctx.db, &hash, carrier, now, now - idle)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if found.kind != users::TokenKind::Bearer
        && found.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY)
    {
        let mut tx = ctx.db.begin().await?;
        users::touch_token(&mut tx, &hash, now).await?;
        tx.commit().await?;
    }
    let principal = match found.holder {
        users::TokenHolder::User {
            id,
            public_id,
            role,
            shelters,
            jurisdiction,
        } => Principal::User {
            id: UserId(public_id),
            internal: id,
            role,
            shelters,
            jurisdiction: jurisdiction.map(|raw| {
                Jurisdiction::parse(&raw).unwrap_or_else(|_| {
                    // Checked on the way in; one that no longer parses denies everything.
                    tracing::error!(user = %public_id, "stored jurisdiction does not parse: denying everything");
                    Jurisdiction::nowhere()
                })
            }),
        },
        users::TokenHolder::Resident { id, public_id } => Principal::Resident {
            id: crate::domain::ResidentId(public_id),
            internal: id,
        },
    };
    if cached {
        ctx.principals.put(hash, &principal);
    }
    Ok(principal)
}
