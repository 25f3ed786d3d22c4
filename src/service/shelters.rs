//! Shelters: open them, find the nearest with room, admit by scanning a code, check out.

pub use super::admissions::{Admission, AdmittedMember};
use super::admissions::{Member, Plan};
use super::codes::scan;
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::shelter::{
    CheckoutReason, NewShelter, ShelterForm, ShelterPatch, ShelterPatchForm, local_day_start,
};
use crate::domain::{AuditDraft, Location, Need};
use crate::store::{audit, residents, shelters};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShelterView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub location: Location,
    pub capacity: i32,
    pub occupancy: i32,
    /// Places left (0 when full or over capacity).
    pub free: i32,
    /// `open`, `full` (open, no place left) or `closed`.
    pub status: String,
    /// Occupancy is above a capacity lowered since: admissions wait until it falls.
    pub over_capacity: bool,
    pub accessibility: Vec<String>,
    /// Residents who were red when admitted here since local midnight.
    pub red_admitted_today: i64,
    /// From the point asked about, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

fn view(r: shelters::ShelterRow) -> ShelterView {
    let status = if r.status == "closed" {
        "closed"
    } else if r.occupancy >= r.capacity {
        "full"
    } else {
        "open"
    };
    ShelterView {
        id: r.public_id,
        name: r.name,
        location: Location {
            lat: r.lat,
            lon: r.lon,
        },
        capacity: r.capacity,
        occupancy: r.occupancy,
        free: (r.capacity - r.occupancy).max(0),
        status: status.into(),
        over_capacity: r.occupancy > r.capacity,
        accessibility: r.accessibility.0,
        red_admitted_today: r.red_today,
        distance_km: None,
    }
}

pub async fn create(ctx: &Ctx, p: &Principal, form: &ShelterForm) -> Result<ShelterView> {
    authz::authorize(p, Action::ManageShelters)?;
    let s = NewShelter::parse(form)?;
    authz::ensure_resident_in_jurisdiction(p, Some(s.location))?;
    let now = ctx.now();
    let public_id = Uuid::new_v4();
    let accessibility: Vec<String> = s
        .accessibility
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    let mut tx = ctx.db.begin().await?;
    shelters::insert(
        &mut tx,
        &shelters::NewShelter {
            public_id,
            name: &s.name,
            lat: s.location.lat,
            lon: s.location.lon,
            capacity: s.capacity,
            accessibility: &accessibility,
            created_by: &p.actor(),
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "shelter.create")
            .subject(format!("shelter:{public_id}"))
            .after(json!({"capacity": s.capacity, "accessibility": accessibility})),
        now,
    )
    .await?;
    tx.commit().await?;
    get(ctx, p, public_id).await
}

pub async fn get(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<ShelterView> {
    authz::authorize(p, Action::ReadShelters)?;
    shelters::get(&ctx.db, id, local_day_start(ctx.now()))
        .await?
        .map(view)
        .ok_or(ServiceError::NotFound("shelter"))
}

/// What anyone may know of a shelter that can take people: where it is, how many places are
/// free, how it can be reached. Nothing about who is inside.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShelterPlaces {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub location: Location,
    pub free: i32,
    pub accessibility: Vec<String>,
}

/// Open shelters with a free place, for "where do I go". No sign-in: a resident's page sorts
/// them by distance itself, so no one's position is sent anywhere.
pub async fn open_places(ctx: &Ctx) -> Result<Vec<ShelterPlaces>> {
    Ok(shelters::list(&ctx.db, local_day_start(ctx.now()))
        .await?
        .into_iter()
        .map(view)
        .filter(|s| s.status == "open" && s.free > 0)
        .map(|s| ShelterPlaces {
            id: s.id,
            name: s.name,
            location: s.location,
            free: s.free,
            accessibility: s.accessibility,
        })
        .collect())
}

/// Every shelter; with a point, nearest first and (with `within_km`) only those that near.
pub async fn list(
    ctx: &Ctx,
    p: &Principal,
    near: Option<Location>,
    within_km: Option<f64>,
) -> Result<Vec<ShelterView>> {
    authz::authorize(p, Action::ReadShelters)?;
    let mut out: Vec<ShelterView> = shelters::list(&ctx.db, local_day_start(ctx.now()))
        .await?
        .into_iter()
        .map(view)
        .collect();
    if let Some(point) = near {
        for s in &mut out {
            s.distance_km =
                Some((crate::geo::distance_km(point, s.location) * 1000.0).round() / 1000.0);
        }
        if let Some(max) = within_km {
            out.retain(|s| s.distance_km.is_some_and(|d| d <= max));
        }
        out.sort_by(|a, b| {
            a.distance_km
                .unwrap_or(f64::MAX)
                .total_cmp(&b.distance_km.unwrap_or(f64::MAX))
        });
    }
    Ok(out)
}

pub async fn patch(
    ctx: &Ctx,
    p: &Principal,
    id: Uuid,
    form: &ShelterPatchForm,
) -> Result<ShelterView> {
    authz::authorize(p, Action::ManageShelters)?;
    let ch = ShelterPatch::parse(form)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let before = shelters::locate(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("shelter"))?;
    authz::ensure_resident_in_jurisdiction(p, Some(before.location()))?;
    let accessibility: Option<Vec<String>> = ch
        .accessibility
        .as_ref()
        .map(|a| a.iter().map(|x| x.as_str().to_owned()).collect());
    shelters::update(
        &mut tx,
        before.id,
        &shelters::ShelterChange {
            name: ch.name.as_deref(),
            capacity: ch.capacity,
            status: ch.status.map(|s| s.as_str()),
            accessibility: accessibility.as_deref(),
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "shelter.update")
            .subject(format!("shelter:{id}"))
            .before(json!({"capacity": before.capacity, "status": before.status}))
            .after(json!({
                "capacity": ch.capacity.unwrap_or(before.capacity),
                "status": ch.status.map_or(before.status.as_str(), |s| s.as_str()),
            })),
        now,
    )
    .await?;
    tx.commit().await?;
    get(ctx, p, id).await
}

pub struct CheckinRequest<'a> {
    pub token: &'a str,
    pub include_dependents: bool,
    pub idempotency_key: Option<&'a str>,
}

/// Whether `p` may act at this shelter's desk: staff at their own shelters; officials at any
/// shelter, but one with a district only at shelters inside it (an occupant list is a list
/// of people). Every desk action goes through here.
pub async fn ensure_may_act(ctx: &Ctx, p: &Principal, shelter: Uuid) -> Result<()> {
    authz::ensure_at_shelter(p, shelter)?;
    if authz::jurisdiction(p).is_some() {
        let s = ctx
            .admissions
            .shelter(&ctx.db, shelter)
            .await?
            .ok_or(ServiceError::NotFound("shelter"))?;
        authz::ensure_resident_in_jurisdiction(p, Some(s.location()))?;
    }
    Ok(())
}

/// Admits the holder of a code (and, when asked, their dependents): checked here, then
/// written by the process's admission writer (see `admissions`) in one transaction with one
/// open stay each (the partial unique index decides) and the places taken by one conditional
/// update. Nothing is written unless everyone gets in.
pub async fn checkin(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    req: &CheckinRequest<'_>,
) -> Result<Admission> {
    ensure_may_act(ctx, p, shelter).await?;
    let s = scan(ctx, req.token).await?;
    let now = ctx.now();
    let rules = super::colour::active_rules(ctx).await?;
    let row = ctx
        .admissions
        .shelter(&ctx.db, shelter)
        .await?
        .ok_or(ServiceError::NotFound("shelter"))?;
    let mut facts = vec![(s.resident_internal, s.resident_id, s.facts.clone())];
    if req.include_dependents {
        for d in residents::dependents(&ctx.db, s.resident_internal).await? {
            if let Some(f) = super::colour::facts_of(ctx, d.id, now).await? {
                facts.push((d.id, d.public_id, f));
            }
        }
    }
    let members = facts
        .into_iter()
        .map(|(internal, public, facts)| {
            let before = rules.colour(&facts);
            let needs = facts.needs.clone();
            let mut sheltered = facts;
            sheltered.sheltered = true;
            Member {
                internal,
                public,
                before,
                after: rules.colour(&sheltered),
                needs,
            }
        })
        .collect();
    let idempotency = req.idempotency_key.map(|key| {
        let parts: [&[u8]; 2] = [
            s.resident_id.as_bytes(),
            &[u8::from(req.include_dependents)],
        ];
        (
            format!("checkin:{shelter}"),
            key.to_owned(),
            super::idempotency::request_hash(&ctx.id_key, &parts),
        )
    });
    ctx.admissions
        .admit(Plan {
            shelter: row,
            shelter_public: shelter,
            actor: p.actor(),
            members,
            idempotency,
        })
        .await
}

/// The answer to a check-out; stored whole for an idempotent retry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checkout {
    #[schema(value_type = String, format = Uuid)]
    pub stay_id: Uuid,
    pub occupancy: i32,
    pub capacity: i32,
}

pub enum Leaving<'a> {
    Token(&'a str),
    Stay(Uuid),
}

/// Ends a stay at this shelter and gives its place back, atomically.
pub async fn checkout(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    who: Leaving<'_>,
    reason: CheckoutReason,
    transferred_to: Option<Uuid>,
    idempotency_key: Option<&str>,
) -> Result<Checkout> {
    ensure_may_act(ctx, p, shelter).await?;
    let (resident, who_id) = match who {
        Leaving::Token(t) => {
            let s = scan(ctx, t).await?;
            (Some(s.resident_internal), s.resident_id)
        }
        Leaving::Stay(id) => (None, id),
    };
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let scope = format!("checkout:{shelter}");
    let parts: [&[u8]; 2] = [who_id.as_bytes(), reason.as_str().as_bytes()];
    let ticket =
        match super::idempotency::begin(&ctx.id_key, &mut tx, &scope, idempotency_key, &parts, now)
            .await?
        {
            super::idempotency::Once::Replay(first) => return Ok(first),
            super::idempotency::Once::Go(ticket) => ticket,
        };
    let row = shelters::locate(&mut tx, shelter)
        .await?
        .ok_or(ServiceError::NotFound("shelter"))?;
    let to = match transferred_to {
        Some(t) if reason == CheckoutReason::Transferred => Some(
            shelters::locate(&mut tx, t)
                .await?
                .map(|r| r.id)
                .ok_or(ServiceError::NotFound("shelter transferred to"))?,
        ),
        _ => None,
    };
    let stay = match (who, resident) {
        (Leaving::Stay(id), _) => shelters::open_stay_by_id(&mut tx, id).await?,
        (_, Some(r)) => shelters::open_stay_of(&mut tx, r).await?,
        _ => None,
    };
    let not_here = || ServiceError::Conflict {
        code: "not_sheltered_here",
        detail: "this resident has no open stay at this shelter".into(),
    };
    let stay = stay
        .filter(|s| s.shelter_internal == row.id)
        .ok_or_else(not_here)?;
    // An official away from the door, checking out someone who did not show their code, would
    // turn them red alone: only the shelter's own staff, who see them leave, do that.
    let remote = p.role() == crate::domain::Role::Official && resident.is_none();
    let before = if remote {
        Some(super::colour::facts_in_tx(&mut tx, stay.resident_id, now).await?)
    } else {
        None
    };
    if !shelters::close_stay(
        &mut tx,
        stay.stay_internal,
        reason.as_str(),
        to,
        &p.actor(),
        now,
    )
    .await?
    {
        return Err(not_here());
    }
    if let Some(before) = before {
        let rules = super::colour::active_rules(ctx).await?;
        let after = super::colour::facts_in_tx(&mut tx, stay.resident_id, now).await?;
        if rules.worsens(&before, &after) {
            return Err(ServiceError::Conflict {
                code: "scan_required",
                detail: "checking this resident out would make their colour worse: scan their code at the desk, or let the shelter's staff do it".into(),
            });
        }
    }
    let (occupancy, capacity) = shelters::free_place(&mut tx, row.id)
        .await?
        .unwrap_or((0, row.capacity));
    let resident_public = residents::public_id_of(&mut tx, stay.resident_id).await?;
    // Out of a shelter, under an order: red again, and the tablets must know.
    super::status_list::mark_urgent(&mut tx, now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "shelter.checkout")
            .subject(format!("resident:{resident_public}"))
            .after(
                json!({"shelter": shelter, "stay": stay.stay_id, "reason": reason.as_str(),
                          "transferred_to": transferred_to}),
            ),
        now,
    )
    .await?;
    let answer = Checkout {
        stay_id: stay.stay_id,
        occupancy,
        capacity,
    };
    ticket.complete(&mut tx, 200, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OccupantView {
    #[schema(value_type = String, format = Uuid)]
    pub stay_id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: Uuid,
    /// Masked name and last four ID characters, to compare with the ID card.
    pub display_name: String,
    pub needs: Vec<Need>,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Occupants {
    pub occupants: Vec<OccupantView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

pub async fn occupants(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    after: i64,
    limit: i64,
) -> Result<Occupants> {
    ensure_may_act(ctx, p, shelter).await?;
    let limit = limit.clamp(1, 1000);
    let internal = shelters::internal_id_of(&ctx.db, shelter)
        .await?
        .ok_or(ServiceError::NotFound("shelter"))?;
    let rows = shelters::occupants(&ctx.db, internal, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        rows.last().map(|(id, _)| *id)
    } else {
        None
    };
    Ok(Occupants {
        occupants: rows
            .into_iter()
            .map(|(_, o)| OccupantView {
                stay_id: o.stay_id,
                resident_id: o.resident_id,
                display_name: crate::domain::resident::display_text(&o.name, &o.id_last4),
                needs: o.needs.0,
                since: o.since,
            })
            .collect(),
        next,
    })
}
