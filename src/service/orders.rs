//! Evacuation orders over zones, and the incidents they belong to.

use super::colour::{active_rules, transitions};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, Colour, Invalid, OrderLevel};
use crate::geo::Area;
use crate::rules::Facts;
use crate::store::facts::{Scope, grouped};
use crate::store::{self, audit, orders, zones};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderForm {
    /// `advisory` or `mandatory`
    pub level: OrderLevel,
    pub reason: String,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<Uuid>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewForm {
    pub level: OrderLevel,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub zone_id: Uuid,
    pub level: OrderLevel,
    pub reason: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<Uuid>,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub in_force: bool,
}

fn view(o: orders::OrderRow, now: DateTime<Utc>) -> OrderView {
    let in_force = o.lifted_at.is_none() && o.expires_at.is_none_or(|e| e > now);
    OrderView {
        id: o.public_id,
        zone_id: o.zone_public_id,
        level: OrderLevel::from_rank(i64::from(o.level)),
        reason: o.reason,
        incident_id: o.incident_public_id,
        issued_by: o.issued_by,
        issued_at: o.issued_at,
        expires_at: o.expires_at,
        lifted_at: o.lifted_at,
        in_force,
    }
}

fn parse_reason(r: &str) -> Result<String, Invalid> {
    let r = r.trim();
    if r.is_empty() || r.chars().count() > 500 {
        return Err(Invalid::new(
            "reason",
            "invalid_reason",
            "a reason of 1 to 500 characters is required",
        ));
    }
    Ok(r.to_owned())
}

pub(crate) async fn zone_in_reach(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<zones::ZoneRow> {
    let z = zones::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("zone"))?;
    let area = Area::from_geometry(&z.geometry.0)
        .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
    authz::ensure_zone_in_jurisdiction(p, &area)?;
    Ok(z)
}

/// Issues an order: one row. Colours follow at read time. With an idempotency key, a retry of
/// the same form gets the order the first request issued: a second order in force would keep
/// the zone red after the first is lifted.
pub async fn issue(
    ctx: &Ctx,
    p: &Principal,
    zone: Uuid,
    form: &OrderForm,
    idempotency_key: Option<&str>,
) -> Result<OrderView> {
    authz::authorize(p, Action::ManageZones)?;
    if form.level == OrderLevel::None {
        return Err(
            Invalid::new("level", "invalid_level", "level is advisory or mandatory").into(),
        );
    }
    let reason = parse_reason(&form.reason)?;
    let now = ctx.now();
    if form.expires_at.is_some_and(|e| e <= now) {
        return Err(Invalid::new(
            "expires_at",
            "expiry_in_past",
            "expires_at must be in the future",
        )
        .into());
    }
    let z = zone_in_reach(ctx, p, zone).await?;
    let incident = match form.incident_id {
        None => None,
        Some(i) => {
            let inc = orders::incident(&ctx.db, i)
                .await?
                .ok_or(ServiceError::NotFound("incident"))?;
            if inc.all_clear_at.is_some() {
                return Err(ServiceError::Conflict {
                    code: "incident_closed",
                    detail: "the all-clear was given for this incident".into(),
                });
            }
            Some(inc.id)
        }
    };
    let mut tx = ctx.db.begin().await?;
    let ticket = match super::idempotency::begin_form::<Uuid, _>(
        &ctx.id_key,
        &mut tx,
        ("order", p),
        idempotency_key,
        &[zone.as_bytes()],
        form,
        now,
    )
    .await?
    {
        super::idempotency::Once::Replay(first) => {
            drop(tx);
            return orders::get(&ctx.db, first)
                .await?
                .map(|o| view(o, now))
                .ok_or(ServiceError::NotFound("order"));
        }
        super::idempotency::Once::Go(ticket) => ticket,
    };
    let public_id = Uuid::new_v4();
    orders::insert(
        &mut tx,
        &orders::NewOrder {
            public_id,
            zone_id: z.id,
            level: form.level.rank(),
            reason: &reason,
            incident_id: incident,
            issued_by: &p.actor(),
            expires_at: form.expires_at,
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "order.issue")
            .subject(format!("zone:{zone}"))
            .after(json!({"order": public_id, "level": form.level, "expires_at": form.expires_at, "incident": form.incident_id}))
            .reason(reason),
        now,
    )
    .await?;
    super::status_list::mark_urgent(&mut tx, now).await?;
    ticket.complete(&mut tx, 201, &public_id).await?;
    tx.commit().await?;
    orders::get(&ctx.db, public_id)
        .await?
        .map(|o| view(o, now))
        .ok_or(ServiceError::NotFound("order"))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderPreview {
    pub to_red: i64,
    pub to_yellow: i64,
    pub to_green: i64,
    pub unchanged: i64,
}

/// How many of the zone's residents an order would move, without issuing it.
pub async fn preview(
    ctx: &Ctx,
    p: &Principal,
    zone: Uuid,
    level: OrderLevel,
) -> Result<OrderPreview> {
    authz::authorize(p, Action::ManageZones)?;
    let z = zone_in_reach(ctx, p, zone).await?;
    let rules = active_rules(ctx).await?;
    let now = ctx.now();
    let groups = grouped(&ctx.db, Scope::Zone(z.id), rules.uses("age"), now).await?;
    let t = transitions(&groups, now, |f| {
        let with = Facts {
            order_level: f.order_level.max(level),
            ..f.clone()
        };
        (rules.colour(f), rules.colour(&with))
    });
    let mut out = OrderPreview {
        to_red: 0,
        to_yellow: 0,
        to_green: 0,
        unchanged: 0,
    };
    for ((from, to), n) in t {
        match to {
            _ if from == to => out.unchanged += n,
            Colour::Red => out.to_red += n,
            Colour::Yellow => out.to_yellow += n,
            Colour::Green => out.to_green += n,
        }
    }
    Ok(out)
}

pub async fn lift(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<OrderView> {
    authz::authorize(p, Action::ManageZones)?;
    let o = orders::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("order"))?;
    zone_in_reach(ctx, p, o.zone_public_id).await?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    if !orders::lift(&mut tx, o.id, &p.actor(), now).await? {
        return Err(ServiceError::Conflict {
            code: "order_not_in_force",
            detail: "the order was already lifted or has expired".into(),
        });
    }
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "order.lift")
            .subject(format!("zone:{}", o.zone_public_id))
            .before(json!({"order": id, "level": OrderLevel::from_rank(i64::from(o.level)), "in_force": true}))
            .after(json!({"order": id, "in_force": false})),
        now,
    )
    .await?;
    tx.commit().await?;
    orders::get(&ctx.db, id)
        .await?
        .map(|o| view(o, now))
        .ok_or(ServiceError::NotFound("order"))
}

pub async fn list(ctx: &Ctx, p: &Principal, active_only: bool) -> Result<Vec<OrderView>> {
    authz::authorize(p, Action::ManageZones)?;
    let now = ctx.now();
    // With a district: the orders over its zones.
    let zones: Option<std::collections::HashSet<i64>> = match authz::jurisdiction(p) {
        None => None,
        Some(_) => Some(
            crate::store::zones::list(&ctx.db)
                .await?
                .into_iter()
                .filter(|z| super::zones::visible(p, z))
                .map(|z| z.id)
                .collect(),
        ),
    };
    Ok(orders::list(&ctx.db, active_only, now)
        .await?
        .into_iter()
        .filter(|o| zones.as_ref().is_none_or(|z| z.contains(&o.zone_id)))
        .map(|o| view(o, now))
        .collect())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentForm {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub all_clear_at: Option<DateTime<Utc>>,
}

fn incident_view(i: orders::IncidentRow) -> IncidentView {
    IncidentView {
        id: i.public_id,
        name: i.name,
        created_by: i.created_by,
        created_at: i.created_at,
        all_clear_at: i.all_clear_at,
    }
}

pub async fn open_incident(ctx: &Ctx, p: &Principal, form: &IncidentForm) -> Result<IncidentView> {
    authz::authorize(p, Action::ManageZones)?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Invalid::new(
            "name",
            "invalid_incident_name",
            "an incident needs a name of 1 to 100 characters",
        )
        .into());
    }
    let now = ctx.now();
    let public_id = Uuid::new_v4();
    let mut tx = ctx.db.begin().await?;
    orders::insert_incident(&mut tx, public_id, name, &p.actor(), now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "incident.open")
            .subject(format!("incident:{public_id}"))
            .after(json!({"name": name})),
        now,
    )
    .await?;
    tx.commit().await?;
    orders::incident(&ctx.db, public_id)
        .await?
        .map(incident_view)
        .ok_or(ServiceError::NotFound("incident"))
}

pub async fn incidents(ctx: &Ctx, p: &Principal) -> Result<Vec<IncidentView>> {
    authz::authorize(p, Action::ManageZones)?;
    Ok(orders::incidents(&ctx.db)
        .await?
        .into_iter()
        .map(incident_view)
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AllClear {
    #[serde(flatten)]
    pub incident: IncidentView,
    pub orders_lifted: u64,
}

/// Ends an incident: its orders lift, and colours return to what the rest of the facts say.
pub async fn all_clear(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<AllClear> {
    authz::authorize(p, Action::ManageZones)?;
    if authz::jurisdiction(p).is_some() {
        // An incident spans districts: only an official without a jurisdiction ends it.
        return Err(ServiceError::OutsideJurisdiction);
    }
    let inc = orders::incident(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("incident"))?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let lifted = orders::all_clear(&mut tx, inc.id, &p.actor(), now)
        .await?
        .ok_or(ServiceError::Conflict {
            code: "already_all_clear",
            detail: "the all-clear was already given".into(),
        })?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "incident.all_clear")
            .subject(format!("incident:{id}"))
            .after(json!({"orders_lifted": lifted})),
        now,
    )
    .await?;
    tx.commit().await?;
    let inc = orders::incident(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("incident"))?;
    Ok(AllClear {
        incident: incident_view(inc),
        orders_lifted: lifted,
    })
}
