//! Districts (DESIGN.md, "Status lists per district"): an admin draws each once; a resident
//! registered or imported inside one takes a status slot in that district's list, which a
//! shelter's offline bundle carries instead of the whole province's.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::{AuditDraft, DistrictId, Invalid, Location};
use crate::geo::Area;
use crate::store::{self, audit, districts};
use serde::Serialize;
use serde_json::json;

/// A district as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DistrictView {
    /// The number codes of this district carry (SC1 `district` claim).
    #[schema(value_type = u8)]
    pub id: DistrictId,
    pub name: String,
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
}

fn view(r: &districts::DistrictRow) -> Result<DistrictView> {
    Ok(DistrictView {
        id: district_id(r.id)?,
        name: r.name.clone(),
        geometry: r.geometry.0.clone(),
    })
}

fn district_id(id: i64) -> Result<DistrictId> {
    DistrictId::new(id).ok_or_else(|| {
        store::StoreError::Corrupt("a district number outside 1..=128".into()).into()
    })
}

fn area_of(r: &districts::DistrictRow) -> Result<Area> {
    Area::from_geometry(&r.geometry.0)
        .map_err(|e| store::StoreError::Corrupt(format!("district geometry: {e}")).into())
}

fn parse_name(props: &serde_json::Value) -> Result<String, Invalid> {
    let name = props
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Invalid::new(
            "properties.name",
            "invalid_district_name",
            "a district needs properties.name of 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// Draws a district (admins); `true` when new. Its number is the lowest free one; residents
/// registered from now on inside it take slots in its list. Residents already registered
/// keep theirs in the default list: their printed codes name no district. The same name and
/// area again (a retry whose answer was lost) answers the district drawn.
pub async fn create(
    ctx: &Ctx,
    p: &Principal,
    f: &super::zones::ZoneFeature,
) -> Result<(DistrictView, bool)> {
    authz::authorize(p, Action::ManageDistricts)?;
    create_as(ctx, &p.actor(), f).await
}

/// [`create`] by the operator at the console (`safecode import districts`), or an admin.
pub async fn create_as(
    ctx: &Ctx,
    actor: &str,
    f: &super::zones::ZoneFeature,
) -> Result<(DistrictView, bool)> {
    if f.kind != "Feature" {
        return Err(Invalid::new("type", "not_a_feature", "send a GeoJSON Feature").into());
    }
    let name = parse_name(&f.properties)?;
    let area = Area::from_geometry(&f.geometry)?;
    let b = store::zones::Bbox {
        min_lon: area.bbox.min().x,
        min_lat: area.bbox.min().y,
        max_lon: area.bbox.max().x,
        max_lat: area.bbox.max().y,
    };
    let now = ctx.now();
    let geometry = area.to_geojson();
    let mut tx = ctx.db.begin().await?;
    // Serialises district numbering with every other audited change.
    audit::lock_chain(&mut tx).await?;
    let id = match districts::insert(
        &mut tx,
        &name,
        &geometry,
        &b,
        i64::from(crate::domain::ids::MAX_DISTRICTS),
        now,
    )
    .await?
    {
        districts::Inserted::Id(id) => id,
        districts::Inserted::NameTaken => {
            let same = districts::list_tx(&mut tx)
                .await?
                .into_iter()
                .find(|r| r.name == name && r.geometry.0 == geometry);
            if let Some(r) = same {
                return Ok((view(&r)?, false));
            }
            return Err(ServiceError::Conflict {
                code: "district_exists",
                detail: "a district with this name exists".into(),
            });
        }
        districts::Inserted::Full => {
            return Err(ServiceError::Conflict {
                code: "districts_full",
                detail: format!(
                    "all {} district numbers are in use",
                    crate::domain::ids::MAX_DISTRICTS
                ),
            });
        }
    };
    audit::append(
        &mut tx,
        &AuditDraft::new(actor, "district.create")
            .subject(format!("district:{id}"))
            .after(json!({"name": name, "vertices": area.vertices})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        DistrictView {
            id: district_id(id)?,
            name,
            geometry,
        },
        true,
    ))
}

/// Every district (staff pick the neighbours their bundle carries; officials see the map).
pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Vec<DistrictView>> {
    authz::authorize(p, Action::ReadDistricts)?;
    districts::list(&ctx.db).await?.iter().map(view).collect()
}

/// The district a place lies in (the lowest number when drawn areas overlap), inside the
/// caller's transaction.
pub async fn locate(tx: &mut store::Tx, at: Option<Location>) -> Result<Option<DistrictId>> {
    let Some(at) = at else { return Ok(None) };
    for r in districts::around(tx, at.lat, at.lon).await? {
        if area_of(&r)?.contains(at) {
            return Ok(Some(district_id(r.id)?));
        }
    }
    Ok(None)
}

/// Every district's area, for placing many residents (an import batch) without a query each.
pub struct Locator(Vec<(DistrictId, Area)>);

impl Locator {
    pub async fn load(tx: &mut store::Tx) -> Result<Locator> {
        let rows = districts::list_tx(tx).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((district_id(r.id)?, area_of(r)?));
        }
        Ok(Locator(out))
    }

    pub fn districts(&self) -> impl Iterator<Item = DistrictId> + '_ {
        self.0.iter().map(|(d, _)| *d)
    }

    pub fn locate(&self, at: Option<Location>) -> Option<DistrictId> {
        let at = at?;
        self.0.iter().find(|(_, a)| a.contains(at)).map(|(d, _)| *d)
    }
}

/// Whether a district with this number exists.
pub async fn exists(ctx: &Ctx, d: DistrictId) -> Result<bool> {
    Ok(districts::exists(&ctx.db, i64::from(d.get())).await?)
}

/// Every list a server keeps: the default one and each district's.
pub async fn all_lists(ctx: &Ctx) -> Result<Vec<Option<DistrictId>>> {
    let mut out = vec![None];
    for r in districts::list(&ctx.db).await? {
        out.push(Some(district_id(r.id)?));
    }
    Ok(out)
}
