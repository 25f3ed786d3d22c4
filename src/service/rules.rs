//! Rule set versions: list, add (validated), preview, activate.

use super::colour::{active_rules, transitions};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Colour};
use crate::rules::{DEFAULT_RULES, RuleSet, RuleSetDoc};
use crate::store::colour::{Scope, grouped};
use crate::store::{audit, rules as store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleSetView {
    pub version: i64,
    pub active: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

fn view(s: store::StoredRuleSet) -> RuleSetView {
    RuleSetView {
        version: s.version,
        active: s.active,
        created_by: s.created_by,
        created_at: s.created_at,
        activated_at: s.activated_at,
        document: serde_json::from_str(&s.document).unwrap_or(serde_json::Value::Null),
    }
}

/// Installs the built-in rule set as version 1 on a new database.
pub async fn install_default(ctx: &Ctx) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    if store::install_default(&mut tx, DEFAULT_RULES, now).await? {
        audit::append(
            &mut tx,
            &AuditDraft::new("system", "rules.activate").after(json!({"version": 1})),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Vec<RuleSetView>> {
    authz::authorize(p, Action::ReadRules)?;
    Ok(store::list(&ctx.db).await?.into_iter().map(view).collect())
}

pub async fn create(ctx: &Ctx, p: &Principal, doc: RuleSetDoc) -> Result<RuleSetView> {
    authz::authorize(p, Action::ManageRules)?;
    let compiled = RuleSet::compile(0, doc)?;
    let document = serde_json::to_string(&compiled.doc)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    // The chain's lock first: it also orders version numbers across servers.
    audit::lock_chain(&mut tx).await?;
    let version = store::insert(&mut tx, &document, &p.actor(), now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "rules.create")
            .after(json!({"version": version, "name": compiled.doc.name, "rules": compiled.doc.rules.len()})),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get(&ctx.db, version)
        .await?
        .map(view)
        .ok_or(ServiceError::NotFound("rule set"))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub from: Colour,
    pub to: Colour,
    pub residents: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RulesPreview {
    pub active_version: i64,
    /// Residents whose colour would change, by from → to.
    pub changes: Vec<Change>,
    pub to_red: i64,
    pub to_yellow: i64,
    pub to_green: i64,
    pub unchanged: i64,
}

/// What activating a candidate rule set would do, without doing it.
pub async fn preview(ctx: &Ctx, p: &Principal, doc: RuleSetDoc) -> Result<RulesPreview> {
    authz::authorize(p, Action::ManageRules)?;
    let candidate = RuleSet::compile(0, doc)?;
    preview_against(ctx, &candidate).await
}

async fn preview_against(ctx: &Ctx, candidate: &RuleSet) -> Result<RulesPreview> {
    let active = active_rules(ctx).await?;
    let now = ctx.now();
    let groups = grouped(
        &ctx.db,
        Scope::Everyone,
        active.uses("age") || candidate.uses("age"),
        now,
    )
    .await?;
    let t = transitions(&groups, now, |f| (active.colour(f), candidate.colour(f)));
    let mut out = RulesPreview {
        active_version: active.version,
        changes: Vec::new(),
        to_red: 0,
        to_yellow: 0,
        to_green: 0,
        unchanged: 0,
    };
    let mut keys: Vec<_> = t.into_iter().collect();
    keys.sort();
    for ((from, to), n) in keys {
        if from == to {
            out.unchanged += n;
            continue;
        }
        match to {
            Colour::Red => out.to_red += n,
            Colour::Yellow => out.to_yellow += n,
            Colour::Green => out.to_green += n,
        }
        out.changes.push(Change {
            from,
            to,
            residents: n,
        });
    }
    Ok(out)
}

/// What an activation did: took effect, or waits for a second official because it moves
/// more residents than the configured threshold.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Activation {
    Activated(RuleSetView),
    Pending(super::overrides::ApprovalView),
}

pub async fn activate(ctx: &Ctx, p: &Principal, version: i64) -> Result<Activation> {
    authz::authorize(p, Action::ManageRules)?;
    let stored = store::get(&ctx.db, version)
        .await?
        .ok_or(ServiceError::NotFound("rule set"))?;
    let candidate = RuleSet::parse(version, &stored.document)?;
    let effect = preview_against(ctx, &candidate).await?;
    let moved = effect.to_red + effect.to_yellow + effect.to_green;
    if moved > ctx.approval_threshold {
        return request_approval(ctx, p, version, &effect, moved)
            .await
            .map(Activation::Pending);
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let previous = store::activate(&mut tx, version, now)
        .await?
        .ok_or(ServiceError::NotFound("rule set"))?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "rules.activate")
            .before(json!({"version": previous}))
            .after(json!({"version": version, "to_red": effect.to_red, "to_yellow": effect.to_yellow, "to_green": effect.to_green})),
        now,
    )
    .await?;
    tx.commit().await?;
    ctx.rules.invalidate();
    store::get(&ctx.db, version)
        .await?
        .map(|v| Activation::Activated(view(v)))
        .ok_or(ServiceError::NotFound("rule set"))
}

/// A rule set that moves many residents takes effect only once a second official approves
/// (DESIGN.md, Safeguards: any change that moves many residents other than a zone order).
async fn request_approval(
    ctx: &Ctx,
    p: &Principal,
    version: i64,
    effect: &RulesPreview,
    moved: i64,
) -> Result<super::overrides::ApprovalView> {
    let Principal::User { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let now = ctx.now();
    let public_id = uuid::Uuid::new_v4();
    let text = format!(
        "activate rule set v{version}: {} to red, {} to yellow, {} to green",
        effect.to_red, effect.to_yellow, effect.to_green
    );
    let mut tx = ctx.db.begin().await?;
    crate::store::overrides::insert_approval(
        &mut tx,
        &crate::store::overrides::NewRequest {
            public_id,
            kind: "rules",
            colour: None,
            rule_version: Some(version),
            reason_code: "rules_activation",
            reason_text: &text,
            expires_at: None,
            requested_by: &p.actor(),
            requester_id: *internal,
        },
        moved,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "rules.activation_requested")
            .subject(format!("approval:{public_id}"))
            .after(json!({"version": version, "to_red": effect.to_red, "to_yellow": effect.to_yellow, "to_green": effect.to_green})),
        now,
    )
    .await?;
    tx.commit().await?;
    crate::store::overrides::approval(&ctx.db, public_id)
        .await?
        .map(super::overrides::view)
        .ok_or(ServiceError::NotFound("approval"))
}
