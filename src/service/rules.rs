//! Rule set versions: list, add (validated), preview, activate.

use super::colour::{active_rules, transitions};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Colour};
use crate::rules::{DEFAULT_RULES, RuleSet, RuleSetDoc};
use crate::store::facts::{Scope, grouped};
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
    let document = serde_json::to_string(&compiled.doc).map_err(ServiceError::internal)?;
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
    // It counts people across every district: for those who decide rule sets.
    if !authz::is_province_level(p) {
        return Err(ServiceError::OutsideJurisdiction);
    }
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

/// What changes between two rule sets, rule by rule (by id).
fn diff(
    active: &crate::rules::RuleSetDoc,
    candidate: &crate::rules::RuleSetDoc,
) -> serde_json::Value {
    let by_id =
        |d: &crate::rules::RuleSetDoc| -> std::collections::BTreeMap<String, serde_json::Value> {
            d.rules
                .iter()
                .map(|r| (r.id.clone(), serde_json::to_value(r).unwrap_or_default()))
                .collect()
        };
    let (old, new) = (by_id(active), by_id(candidate));
    let added: Vec<&serde_json::Value> = new
        .iter()
        .filter(|(id, _)| !old.contains_key(*id))
        .map(|(_, r)| r)
        .collect();
    let removed: Vec<&serde_json::Value> = old
        .iter()
        .filter(|(id, _)| !new.contains_key(*id))
        .map(|(_, r)| r)
        .collect();
    let changed: Vec<serde_json::Value> = new
        .iter()
        .filter_map(|(id, r)| {
            old.get(id)
                .filter(|o| *o != r)
                .map(|o| json!({"id": id, "before": o, "after": r}))
        })
        .collect();
    json!({"added": added, "removed": removed, "changed": changed})
}

/// Proposes activating a rule set version (or rolling back to an older one). A rule set is
/// policy over everyone: it always waits for a second official, whatever it moves today (a
/// set that drops every red rule moves nobody now and makes every later order harmless).
/// Only officials without a district and admins propose it.
pub async fn activate(
    ctx: &Ctx,
    p: &Principal,
    version: i64,
) -> Result<super::approvals::ApprovalView> {
    authz::authorize(p, Action::ManageRules)?;
    if !authz::is_province_level(p) {
        return Err(ServiceError::OutsideJurisdiction);
    }
    let Principal::User { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let stored = store::get(&ctx.db, version)
        .await?
        .ok_or(ServiceError::NotFound("rule set"))?;
    if stored.active {
        return Err(ServiceError::Conflict {
            code: "already_active",
            detail: format!("rule set v{version} is already the active one"),
        });
    }
    let candidate = RuleSet::parse(version, &stored.document)?;
    let active = active_rules(ctx).await?;
    let effect = preview_against(ctx, &candidate).await?;
    let moved = effect.to_red + effect.to_yellow + effect.to_green;
    let now = ctx.now();
    let public_id = uuid::Uuid::new_v4();
    let text = format!(
        "activate rule set v{version} (active: v{}): {} to red, {} to yellow, {} to green",
        active.version, effect.to_red, effect.to_yellow, effect.to_green
    );
    let show = json!({
        "version": version,
        "active_version": active.version,
        "rollback": version < active.version,
        "rules": diff(&active.doc, &candidate.doc),
        "preview": effect,
    });
    let payload = serde_json::to_string(&super::approvals::Payload {
        show,
        apply: json!({"version": version, "active_version": active.version}),
    })
    .map_err(ServiceError::internal)?;
    let mut tx = ctx.db.begin().await?;
    crate::store::overrides::insert_approval(
        &mut tx,
        &crate::store::overrides::NewRequest {
            public_id,
            kind: super::approvals::kind::RULES,
            colour: None,
            rule_version: Some(version),
            reason_code: "rules_activation",
            reason_text: &text,
            expires_at: None,
            requested_by: &p.actor(),
            requester_id: *internal,
            resident_id: None,
            payload: Some(payload),
        },
        moved,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "rules.activation_requested")
            .subject(format!("approval:{public_id}"))
            .after(json!({"version": version, "active_version": active.version, "to_red": effect.to_red, "to_yellow": effect.to_yellow, "to_green": effect.to_green})),
        now,
    )
    .await?;
    tx.commit().await?;
    super::approvals::get(ctx, public_id).await
}
