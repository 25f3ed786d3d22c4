//! A resident's trail, in plain Chinese and English: every change to their colour and facts
//! with when, why (the order, the rule set, the override's category) and by which role, and
//! whether a second official approved it; the shelters that admitted them and the relief they
//! received; and who looked at their record (a role and a time, never a name). Read from the
//! audit chain and the tables that hold the decisions, orders, stays and relief.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::ResidentId;
use crate::store::trail;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// At most this many of each kind of event are read.
const PER_SOURCE: i64 = 2000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrailEntry {
    pub at: DateTime<Utc>,
    /// `colour`, `facts`, `shelter`, `relief`, `looked_at` or `record`.
    pub kind: &'static str,
    /// What happened, in Chinese.
    pub zh: String,
    /// What happened, in English.
    pub en: String,
    /// The role that did it (`resident`, `staff`, `official`, `admin`, `system`): never a name.
    pub by: String,
    /// For a change two officials decide: `approved`, `rejected` or `pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_official: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Trail {
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: uuid::Uuid,
    /// Newest first.
    pub entries: Vec<TrailEntry>,
}

/// The role part of an actor (`official:<id>` → `official`).
fn role(actor: &str) -> String {
    actor.split(':').next().unwrap_or("system").to_owned()
}

fn colour_words(c: Option<i32>) -> (&'static str, &'static str) {
    match c {
        Some(2) => ("红码", "red"),
        Some(1) => ("黄码", "yellow"),
        Some(0) => ("绿码", "green"),
        _ => ("（不变）", "(unchanged)"),
    }
}

fn status(s: &str) -> &'static str {
    match s {
        "approved" => "approved",
        "rejected" => "rejected",
        _ => "pending",
    }
}

fn entry(at: DateTime<Utc>, kind: &'static str, zh: String, en: String, by: String) -> TrailEntry {
    TrailEntry {
        at,
        kind,
        zh,
        en,
        by,
        second_official: None,
    }
}

/// The fields a change touched, named in both languages ("needs, address").
fn fields(after: Option<&str>) -> (String, String) {
    let v: serde_json::Value = after
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    let names: &[(&str, &str, &str)] = &[
        ("needs", "特殊需要", "needs"),
        ("flags", "标记", "flags"),
        ("location", "居住位置", "where you live"),
        ("address", "地址", "address"),
        ("phone", "电话", "phone"),
        ("name", "姓名", "name"),
    ];
    let (mut zh, mut en) = (Vec::new(), Vec::new());
    if let Some(o) = v.as_object() {
        for (key, z, e) in names {
            if o.contains_key(*key) {
                zh.push(*z);
                en.push(*e);
            }
        }
    }
    (zh.join("、"), en.join(", "))
}

/// One audit entry about the resident in plain words; None for those told from the tables
/// (decisions, stays, relief) or that say nothing to them.
fn from_audit(
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    after: Option<&str>,
) -> Option<TrailEntry> {
    let by = role(actor);
    let e =
        |kind, zh: &str, en: &str| Some(entry(at, kind, zh.to_owned(), en.to_owned(), by.clone()));
    match action {
        "resident.register" => e("record", "登记", "Registered"),
        "resident.update" => {
            let (zh, en) = fields(after);
            Some(entry(
                at,
                "facts",
                format!("资料已更改：{zh}"),
                format!("Details changed: {en}"),
                by.clone(),
            ))
        }
        "resident.safe" => e("facts", "报告平安", "Marked safe"),
        "appeal.open" => e("colour", "对码色提出申诉", "Appealed the colour"),
        "appeal.decide" => e("colour", "申诉已处理", "The appeal was decided"),
        "resident.reclaim" => e(
            "record",
            "凭证件取回登记",
            "Record taken back with the ID card",
        ),
        "resident.retire" => e("record", "重复登记已合并", "A duplicate record was retired"),
        a if a.ends_with(".read") || a == "resident.lookup" => {
            e("looked_at", "您的记录被查看", "Your record was looked at")
        }
        _ => None,
    }
}

fn from_decision(d: &trail::DecisionRow) -> TrailEntry {
    let (czh, cen) = colour_words(d.colour);
    let (zh, en) = match d.kind.as_str() {
        "override" => (
            format!("人工调整码色为{czh}（类别：{}）", d.reason_code),
            format!(
                "Colour set to {cen} by an override (category: {})",
                d.reason_code
            ),
        ),
        "clear_override" => ("撤销人工调整".to_owned(), "Override cleared".to_owned()),
        "facts" => (
            format!("资料更改（会使码色变为{czh}）"),
            format!("A change of details (it makes the colour {cen})"),
        ),
        "appeal" => ("申诉获支持".to_owned(), "The appeal was upheld".to_owned()),
        other => (other.to_owned(), other.to_owned()),
    };
    let decided = match d.status.as_str() {
        "approved" => ("，第二名官员已批准", ", approved by a second official"),
        "rejected" => ("，第二名官员已驳回", ", rejected by a second official"),
        _ => ("，等待第二名官员决定", ", waiting for a second official"),
    };
    TrailEntry {
        at: d.decided_at.unwrap_or(d.requested_at),
        kind: "colour",
        zh: format!("{zh}{}", decided.0),
        en: format!("{en}{}", decided.1),
        by: role(&d.requested_by),
        second_official: Some(status(&d.status)),
    }
}

/// Everything in one list, newest first.
async fn build(ctx: &Ctx, internal: i64, public: uuid::Uuid) -> Result<Trail> {
    let mut entries = Vec::new();
    for (at, actor, action, after) in
        trail::audit_about(&ctx.db, &format!("resident:{public}"), PER_SOURCE).await?
    {
        entries.extend(from_audit(at, &actor, &action, after.as_deref()));
    }
    for d in trail::decisions(&ctx.db, internal, PER_SOURCE).await? {
        entries.push(from_decision(&d));
    }
    for o in trail::orders_over(&ctx.db, internal, PER_SOURCE).await? {
        let (lzh, len) = if o.level >= 2 {
            ("强制转移令", "mandatory evacuation order")
        } else {
            ("转移建议", "evacuation advisory")
        };
        entries.push(entry(
            o.issued_at,
            "colour",
            format!("{}：发布{lzh}（{}）", o.zone, o.reason),
            format!("{}: {len} issued ({})", o.zone, o.reason),
            role(&o.issued_by),
        ));
        if let Some(at) = o.lifted_at {
            entries.push(entry(
                at,
                "colour",
                format!("{}：{lzh}已解除", o.zone),
                format!("{}: {len} lifted", o.zone),
                role(o.lifted_by.as_deref().unwrap_or("system")),
            ));
        }
    }
    for (version, at) in trail::rule_activations(&ctx.db, 50).await? {
        entries.push(entry(
            at,
            "colour",
            format!("码色规则第 {version} 版生效"),
            format!("Colour rules version {version} took effect"),
            "official".into(),
        ));
    }
    for s in trail::stays(&ctx.db, internal, PER_SOURCE).await? {
        entries.push(entry(
            s.checked_in_at,
            "shelter",
            format!("入住{}", s.shelter),
            format!("Admitted to {}", s.shelter),
            role(&s.checked_in_by),
        ));
        if let Some(at) = s.checked_out_at {
            let why = s.checkout_reason.unwrap_or_default();
            entries.push(entry(
                at,
                "shelter",
                format!("离开{}（{why}）", s.shelter),
                format!("Left {} ({why})", s.shelter),
                role(s.checked_out_by.as_deref().unwrap_or("system")),
            ));
        }
    }
    for r in trail::relief(&ctx.db, internal, PER_SOURCE).await? {
        entries.push(entry(
            r.given_at,
            "relief",
            format!("在{}领取{} {} {}", r.shelter, r.item, r.quantity, r.unit),
            format!(
                "Received {} {} {} at {}",
                r.quantity, r.unit, r.item, r.shelter
            ),
            role(&r.given_by),
        ));
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    Ok(Trail {
        resident_id: public,
        entries,
    })
}

/// My trail (residents).
pub async fn mine(ctx: &Ctx, p: &Principal) -> Result<Trail> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id, internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    build(ctx, *internal, id.0).await
}

/// A resident's trail (officials, within their district); the read is itself audited, and
/// shows in the trail as "looked at".
pub async fn of(ctx: &Ctx, p: &Principal, id: ResidentId) -> Result<Trail> {
    let r = super::residents::read_one(ctx, p, id, "resident.history.read").await?;
    build(ctx, r.id, id.0).await
}
