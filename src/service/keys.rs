//! Signing-key rotation from the API.

use super::{Action, Ctx, Principal, Result, authz};
use crate::domain::AuditDraft;
use crate::keys::signing;
use crate::store::audit;
use serde_json::json;

/// A new signing key; the previous active keys are retired and keep verifying their codes.
pub async fn rotate(ctx: &Ctx, p: &Principal) -> Result<serde_json::Value> {
    authz::authorize(p, Action::RotateKeys)?;
    let dir = ctx.keys.dir().to_owned();
    let key = tokio::task::spawn_blocking(move || signing::rotate(&dir))
        .await
        .map_err(super::ServiceError::internal)?
        .map_err(super::ServiceError::internal)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "keys.rotate").after(json!({"kid": key.kid.to_hex()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ctx.keys.jwks())
}
