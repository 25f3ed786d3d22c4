//! Flood zones: drawing, changing and deleting them, who lives in them, live counts.

use super::colour::{Tally, active_rules, tally};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::resident::pack_facts;
use crate::domain::{AuditDraft, Colour, Invalid, Location, Need, OrderLevel};
use crate::geo::Area;
use crate::store::facts::{self as facts_store, Scope};
use crate::store::{self, audit, orders, zones};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// A zone as drawn: a GeoJSON Feature with `properties.name`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ZoneFeature {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: serde_json::Value,
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
}

fn parse_name(props: &serde_json::Value) -> Result<String, Invalid> {
    let name = props
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::trim)
        .unwrap_or("");
    // A zone's name is a CAP area description: nothing XML forbids either.
    if name.is_empty()
        || name.chars().count() > 100
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        return Err(Invalid::new(
            "properties.name",
            "invalid_zone_name",
            "a zone needs properties.name of 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

fn parse_feature(f: &ZoneFeature) -> Result<(String, Area), Invalid> {
    if f.kind != "Feature" {
        return Err(Invalid::new(
            "type",
            "not_a_feature",
            "send a GeoJSON Feature",
        ));
    }
    Ok((
        parse_name(&f.properties)?,
        Area::from_geometry(&f.geometry)?,
    ))
}

fn bbox(a: &Area) -> zones::Bbox {
    zones::Bbox {
        min_lon: a.bbox.min().x,
        min_lat: a.bbox.min().y,
        max_lon: a.bbox.max().x,
        max_lat: a.bbox.max().y,
    }
}

/// An official with a district sees the zones inside it (their counts are its people).
pub(crate) fn visible(p: &Principal, z: &zones::ZoneRow) -> bool {
    match authz::jurisdiction(p) {
        None => true,
        Some(j) => stored_area(z).is_ok_and(|a| j.covers(&a)),
    }
}

fn stored_area(z: &zones::ZoneRow) -> Result<Area> {
    Area::from_geometry(&z.geometry.0)
        .map_err(|e| store::StoreError::Corrupt(format!("zone geometry: {e}")).into())
}

/// Residents read per page when a zone's members are computed.
const MEMBER_PAGE: i64 = 50_000;

/// Recomputes a zone's members from the located residents inside its box, page by page
/// (inside the caller's transaction, which holds the chain's lock: no registration can slip
/// in between). Memory holds one page and its members, whatever the zone's size.
async fn set_members(tx: &mut store::Tx, zone_id: i64, area: &Area) -> Result<usize> {
    zones::clear_members(tx, zone_id).await?;
    let b = bbox(area);
    let (mut after, mut count) = (0i64, 0usize);
    let mut lists = std::collections::BTreeSet::new();
    loop {
        let page = zones::located_in(tx, &b, after, MEMBER_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let full = page.len() as i64 == MEMBER_PAGE;
        let rows: Vec<(i64, i64, i32)> = page
            .iter()
            .filter(|r| {
                area.contains(Location {
                    lat: r.lat,
                    lon: r.lon,
                })
            })
            .map(|r| {
                lists.insert(crate::domain::ids::list_key(
                    crate::domain::ListSlot::from_stored(r.status_index).and_then(|s| s.district),
                ));
                (zone_id, r.id, pack_facts(&r.needs.0, &r.flags.0))
            })
            .collect();
        count += rows.len();
        zones::add_members(tx, &rows).await?;
        if !full {
            break;
        }
    }
    let lists: Vec<i64> = lists.into_iter().collect();
    store::status_lists::note_zone_lists(tx, zone_id, &lists).await?;
    Ok(count)
}

/// A resident to put into the zones that contain them.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub id: i64,
    pub location: Location,
    /// `pack_facts` of their needs and flags.
    pub facts: i32,
}

/// Up to this many residents are placed zone lookup by zone lookup; more (an import batch)
/// load every zone once.
const FEW: usize = 32;

/// Puts residents into the zones that contain them. Called after the chain's lock is held.
pub async fn place(tx: &mut store::Tx, residents: &[Placed]) -> Result<()> {
    if residents.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::new();
    if residents.len() <= FEW {
        // A household registering: only the zones whose box holds each place, read from the
        // index; loading every zone's geometry here would put the whole map on the hot path.
        for r in residents {
            for z in zones::around(tx, r.location.lat, r.location.lon).await? {
                if stored_area(&z)?.contains(r.location) {
                    rows.push((z.id, r.id, r.facts));
                }
            }
        }
    } else {
        let areas: Vec<(i64, Area)> = zones::all_tx(tx)
            .await?
            .iter()
            .map(|z| Ok((z.id, stored_area(z)?)))
            .collect::<Result<_>>()?;
        for r in residents {
            for (zone, area) in &areas {
                if area.contains(r.location) {
                    rows.push((*zone, r.id, r.facts));
                }
            }
        }
    }
    zones::add_members(tx, &rows).await?;
    let mut placed: Vec<i64> = rows.iter().map(|(_, r, _)| *r).collect();
    placed.sort_unstable();
    placed.dedup();
    Ok(store::status_lists::note_zone_districts(tx, &placed).await?)
}

/// A resident moved or their needs or flags changed: their memberships follow.
pub async fn replace(
    tx: &mut store::Tx,
    resident_id: i64,
    location: Option<Location>,
    facts: i32,
) -> Result<()> {
    zones::clear_memberships_of(tx, resident_id).await?;
    if let Some(location) = location {
        place(
            tx,
            &[Placed {
                id: resident_id,
                location,
                facts,
            }],
        )
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneCreated {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    /// Residents inside the zone.
    pub residents: usize,
}

pub async fn create(ctx: &Ctx, p: &Principal, f: &ZoneFeature) -> Result<ZoneCreated> {
    authz::authorize(p, Action::ManageZones)?;
    let (name, area) = parse_feature(f)?;
    authz::ensure_zone_in_jurisdiction(p, &area)?;
    let now = ctx.now();
    let public_id = Uuid::new_v4();
    let mut tx = ctx.db.begin().await?;
    audit::lock_chain(&mut tx).await?;
    let id = zones::insert(
        &mut tx,
        public_id,
        &name,
        &area.to_geojson(),
        &bbox(&area),
        area.vertices as i32,
        &p.actor(),
        now,
    )
    .await?;
    let residents = set_members(&mut tx, id, &area).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "zone.create")
            .subject(format!("zone:{public_id}"))
            .after(json!({"name": name, "vertices": area.vertices, "residents": residents})),
        now,
    )
    .await?;
    tx.commit().await?;
    settle_statistics(ctx, residents).await?;
    Ok(ZoneCreated {
        id: public_id,
        name,
        residents,
    })
}

/// A change to a zone: a new name, a new geometry, or both.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZonePatch {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<serde_json::Value>,
}

pub async fn update(ctx: &Ctx, p: &Principal, id: Uuid, patch: &ZonePatch) -> Result<ZoneView> {
    authz::authorize(p, Action::ManageZones)?;
    let name = patch.properties.as_ref().map(parse_name).transpose()?;
    let area = patch
        .geometry
        .as_ref()
        .map(Area::from_geometry)
        .transpose()?;
    if name.is_none() && area.is_none() {
        return Err(Invalid::new(
            "body",
            "empty_patch",
            "give properties.name, geometry, or both",
        )
        .into());
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    audit::lock_chain(&mut tx).await?;
    let z = zones::get_tx(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("zone"))?;
    let old_area = stored_area(&z)?;
    authz::ensure_zone_in_jurisdiction(p, &old_area)?;
    if let Some(a) = &area {
        authz::ensure_zone_in_jurisdiction(p, a)?;
        // Redrawing a zone under an order would move its people with no order, reason or
        // preview: one official could draw a mandatory zone around anyone's home.
        if crate::store::orders::in_force_over(&mut tx, z.id, now).await? {
            return Err(ServiceError::Conflict {
                code: "order_in_force",
                detail: "an order is in force over this zone: lift it before redrawing, or draw a new zone and issue an order over it".into(),
            });
        }
    }
    let new_area = area.clone().unwrap_or_else(|| old_area.clone());
    let new_name = name.clone().unwrap_or_else(|| z.name.clone());
    zones::update(
        &mut tx,
        z.id,
        &new_name,
        &new_area.to_geojson(),
        &bbox(&new_area),
        new_area.vertices as i32,
        now,
    )
    .await?;
    let before_members = zones::member_count(&mut tx, z.id).await?;
    let members = if area.is_some() {
        set_members(&mut tx, z.id, &new_area).await? as i64
    } else {
        before_members
    };
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "zone.update")
            .subject(format!("zone:{id}"))
            .before(json!({"name": z.name, "vertices": z.vertices, "residents": before_members}))
            .after(json!({"name": new_name, "vertices": new_area.vertices, "residents": members})),
        now,
    )
    .await?;
    tx.commit().await?;
    settle_statistics(ctx, (members - before_members).unsigned_abs() as usize).await?;
    get(ctx, p, id).await
}

/// Memberships changed by at least this many: the planner's statistics are refreshed.
const MANY_MEMBERS: usize = 50_000;

/// After a zone's membership moved by many, the planner learns of it before the next scans.
async fn settle_statistics(ctx: &Ctx, changed: usize) -> Result<()> {
    if changed >= MANY_MEMBERS {
        ctx.db.analyze(&["zone_members"]).await?;
    }
    Ok(())
}

pub async fn delete(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<()> {
    authz::authorize(p, Action::ManageZones)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    audit::lock_chain(&mut tx).await?;
    let z = zones::get_tx(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("zone"))?;
    authz::ensure_zone_in_jurisdiction(p, &stored_area(&z)?)?;
    // Lifting an order is its own deliberate, audited act that residents see; a deletion
    // must not do it on the side.
    if orders::in_force_over(&mut tx, z.id, now).await? {
        return Err(ServiceError::Conflict {
            code: "order_in_force",
            detail: "an order is in force over this zone: lift it before deleting the zone".into(),
        });
    }
    let members = zones::member_count(&mut tx, z.id).await?;
    zones::delete(&mut tx, z.id, now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "zone.delete")
            .subject(format!("zone:{id}"))
            .before(json!({"name": z.name, "residents": members})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a zone not yet saved would do: who lives in it and how an order over it would move
/// their colours.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct ZoneImpact {
    pub residents: i64,
    /// Would turn red (from yellow or green) under the order.
    pub to_red: i64,
    /// Would turn yellow (from green) under the order.
    pub to_yellow: i64,
    /// Residents with a need (elderly, disabled, medical, pregnant, infant, wheelchair): a
    /// transfer team has to help them move.
    pub needs_help: i64,
    pub vertices: usize,
}

/// The impact of a drawn zone before it is saved, validated exactly as `create` would.
pub async fn preview_draft(
    ctx: &Ctx,
    p: &Principal,
    f: &ZoneFeature,
    level: OrderLevel,
) -> Result<ZoneImpact> {
    authz::authorize(p, Action::ManageZones)?;
    let (_, area) = parse_feature(f)?;
    authz::ensure_zone_in_jurisdiction(p, &area)?;
    let rules = active_rules(ctx).await?;
    let now = ctx.now();
    let mut out = ZoneImpact {
        vertices: area.vertices,
        ..ZoneImpact::default()
    };
    for row in facts_store::in_bbox(&ctx.db, &bbox(&area), rules.uses("age"), now).await? {
        if !area.contains(Location {
            lat: row.lat,
            lon: row.lon,
        }) {
            continue;
        }
        let before = super::colour::facts(row.facts, None, now);
        let after = crate::rules::Facts {
            order_level: before.order_level.max(level),
            ..before.clone()
        };
        out.residents += 1;
        out.needs_help += i64::from(!before.needs.is_empty());
        match (rules.colour(&before), rules.colour(&after)) {
            (from, Colour::Red) if from != Colour::Red => out.to_red += 1,
            (Colour::Green, Colour::Yellow) => out.to_yellow += 1,
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct ZoneCounts {
    pub residents: i64,
    pub red: i64,
    pub yellow: i64,
    pub green: i64,
    /// In a shelter now.
    pub sheltered: i64,
    /// Not in a shelter, but said they are safe with relatives.
    pub safe_with_relatives: i64,
    /// Neither sheltered nor safe with relatives: still to be reached.
    pub not_reached: i64,
}

impl ZoneCounts {
    fn from_tally(t: Tally) -> Self {
        let residents = t.total();
        ZoneCounts {
            residents,
            red: t.red,
            yellow: t.yellow,
            green: t.green,
            sheltered: t.sheltered,
            safe_with_relatives: t.safe_with_relatives,
            not_reached: residents - t.sheltered - t.safe_with_relatives,
        }
    }
}

/// A zone as a GeoJSON Feature with its live counts in `properties`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = Object)]
    pub geometry: Option<serde_json::Value>,
    pub properties: ZoneProperties,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneProperties {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub order_level: OrderLevel,
    #[serde(flatten)]
    pub counts: ZoneCounts,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneCollection {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub features: Vec<ZoneView>,
}

fn zone_view(z: zones::ZoneRow, level: i32, t: Tally, with_geometry: bool) -> ZoneView {
    ZoneView {
        kind: "Feature",
        id: z.public_id,
        geometry: with_geometry.then_some(z.geometry.0),
        properties: ZoneProperties {
            id: z.public_id,
            name: z.name,
            order_level: OrderLevel::from_rank(i64::from(level)),
            counts: ZoneCounts::from_tally(t),
        },
    }
}

pub async fn list(ctx: &Ctx, p: &Principal, with_geometry: bool) -> Result<ZoneCollection> {
    authz::authorize(p, Action::ManageZones)?;
    let rules = active_rules(ctx).await?;
    let now = ctx.now();
    let counts = super::colour::tally_zones(ctx, &rules).await?;
    let levels: HashMap<i64, i32> = orders::zone_levels(&ctx.db, now)
        .await?
        .into_iter()
        .collect();
    let features = zones::list(&ctx.db)
        .await?
        .into_iter()
        .filter(|z| visible(p, z))
        .map(|z| {
            let t = counts.get(&Some(z.id)).copied().unwrap_or_default();
            let level = levels.get(&z.id).copied().unwrap_or(0);
            zone_view(z, level, t, with_geometry)
        })
        .collect();
    Ok(ZoneCollection {
        kind: "FeatureCollection",
        features,
    })
}

pub async fn get(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<ZoneView> {
    authz::authorize(p, Action::ManageZones)?;
    let z = zones::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("zone"))?;
    if !visible(p, &z) {
        return Err(ServiceError::OutsideJurisdiction);
    }
    let rules = active_rules(ctx).await?;
    let counts = tally(ctx, &rules, Scope::Zone(z.id)).await?;
    let level = orders::zone_level(&ctx.db, z.id, ctx.now()).await?;
    let t = counts.get(&Some(z.id)).copied().unwrap_or_default();
    Ok(zone_view(z, level, t, true))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneResident {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub needs: Vec<Need>,
    pub colour: Colour,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneResidents {
    pub residents: Vec<ZoneResident>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The residents of a zone, optionally of one colour, for the transfer teams. Personal
/// data: officials only, within their jurisdiction, and every read is audited.
pub async fn residents(
    ctx: &Ctx,
    p: &Principal,
    id: Uuid,
    colour: Option<Colour>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<ZoneResidents> {
    authz::authorize(p, Action::ManageZones)?;
    let z = zones::get(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("zone"))?;
    authz::ensure_zone_in_jurisdiction(p, &stored_area(&z)?)?;
    let after: i64 = match cursor {
        None => 0,
        Some(c) => c.parse().map_err(|_| {
            Invalid::new(
                "cursor",
                "invalid_cursor",
                "cursor is not one this server gave",
            )
        })?,
    };
    let rules = active_rules(ctx).await?;
    let now = ctx.now();
    let limit = limit.clamp(1, 1000);
    let mut out = Vec::new();
    let mut last = after;
    let mut more = false;
    // Members are read a chunk at a time until the page is full: the colour filter runs
    // here, so a page of red residents may take several chunks.
    const CHUNK: i64 = 2000;
    let mut read_to = after;
    'pages: loop {
        let chunk = facts_store::zone_members(&ctx.db, z.id, read_to, CHUNK, now).await?;
        let done = (chunk.len() as i64) < CHUNK;
        for m in chunk {
            read_to = m.id;
            let c = rules.colour(&super::colour::facts(m.facts.clone(), None, now));
            if colour.is_some_and(|want| want != c) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break 'pages;
            }
            last = m.id;
            out.push(ZoneResident {
                id: m.public_id,
                name: m.name,
                phone: m.phone,
                address: m.address,
                needs: m.facts.needs.0,
                colour: c,
            });
        }
        if done {
            break;
        }
    }
    let mut tx = ctx.db.begin().await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "zone.residents.read")
            .subject(format!("zone:{id}"))
            .after(json!({"colour": colour, "returned": out.len()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ZoneResidents {
        residents: out,
        next_cursor: more.then(|| last.to_string()),
    })
}
