//! Shelters, check-outs and relief items as they arrive, parsed into values that are valid.

use super::Invalid;
use super::resident::{Location, vocabulary};
use serde::{Deserialize, Serialize};

vocabulary!(
    /// What a shelter can accommodate beyond a bed.
    Accessibility, "accessibility", "invalid_accessibility", {
        Wheelchair => "wheelchair",
        Medical => "medical",
        Infants => "infants",
    }
);

vocabulary!(
    /// Why a stay ended.
    CheckoutReason, "reason", "invalid_reason", {
        ReturnedHome => "returned_home",
        MovedToRelatives => "moved_to_relatives",
        Transferred => "transferred",
        Hospital => "hospital",
    }
);

vocabulary!(
    /// Whether a relief quota counts per person or per household.
    QuotaPer, "per", "invalid_per", {
        Person => "person",
        Household => "household",
    }
);

vocabulary!(
    /// Whether a shelter takes people. ("Full" is not stored: it is occupancy ≥ capacity.)
    ShelterStatus, "status", "invalid_status", {
        Open => "open",
        Closed => "closed",
    }
);

/// The most places one shelter may declare: a stadium, not a typo's worth more.
pub const MAX_CAPACITY: i64 = 100_000;
/// The most of one item handed over in one go.
pub const MAX_QUANTITY: i64 = 10_000;

/// A short label (a shelter's or an item's name, a unit): trimmed, 1..=`max` characters, no
/// control characters.
pub fn label(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let v = raw.trim();
    let n = v.chars().count();
    if n == 0 {
        return Err(Invalid::new(field, "missing", format!("{field} is empty")));
    }
    if n > max || v.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            "invalid_text",
            format!("{field} must be at most {max} characters without control characters"),
        ));
    }
    Ok(v.to_owned())
}

pub fn capacity(raw: i64) -> Result<i32, Invalid> {
    if !(0..=MAX_CAPACITY).contains(&raw) {
        return Err(Invalid::new(
            "capacity",
            "invalid_capacity",
            format!("capacity must be between 0 and {MAX_CAPACITY}"),
        ));
    }
    Ok(raw as i32)
}

pub fn quantity(field: &'static str, raw: i64) -> Result<i32, Invalid> {
    if !(1..=MAX_QUANTITY).contains(&raw) {
        return Err(Invalid::new(
            field,
            "invalid_quantity",
            format!("{field} must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    Ok(raw as i32)
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShelterForm {
    pub name: String,
    pub location: Location,
    pub capacity: i64,
    #[serde(default)]
    pub accessibility: Vec<String>,
}

/// A shelter that may be created.
#[derive(Debug, Clone)]
pub struct NewShelter {
    pub name: String,
    pub location: Location,
    pub capacity: i32,
    pub accessibility: Vec<Accessibility>,
}

impl NewShelter {
    pub fn parse(f: &ShelterForm) -> Result<Self, Invalid> {
        Ok(Self {
            name: label("name", &f.name, 200)?,
            location: Location::parse(f.location.lat, f.location.lon)?,
            capacity: capacity(f.capacity)?,
            accessibility: Accessibility::parse_set(f.accessibility.iter().map(String::as_str))?,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShelterPatchForm {
    pub name: Option<String>,
    pub capacity: Option<i64>,
    pub status: Option<String>,
    pub accessibility: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ShelterPatch {
    pub name: Option<String>,
    pub capacity: Option<i32>,
    pub status: Option<ShelterStatus>,
    pub accessibility: Option<Vec<Accessibility>>,
}

impl ShelterPatch {
    pub fn parse(f: &ShelterPatchForm) -> Result<Self, Invalid> {
        Ok(Self {
            name: f
                .name
                .as_deref()
                .map(|n| label("name", n, 200))
                .transpose()?,
            capacity: f.capacity.map(capacity).transpose()?,
            status: f.status.as_deref().map(ShelterStatus::parse).transpose()?,
            accessibility: f
                .accessibility
                .as_ref()
                .map(|a| Accessibility::parse_set(a.iter().map(String::as_str)))
                .transpose()?,
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReliefItemForm {
    pub name: String,
    pub unit: String,
    /// How many units each person (or household) may receive per day.
    pub quota: i64,
    /// `person` or `household`.
    pub per: String,
}

#[derive(Debug, Clone)]
pub struct NewReliefItem {
    pub name: String,
    pub unit: String,
    pub quota: i32,
    pub per: QuotaPer,
}

impl NewReliefItem {
    pub fn parse(f: &ReliefItemForm) -> Result<Self, Invalid> {
        Ok(Self {
            name: label("name", &f.name, 100)?,
            unit: label("unit", &f.unit, 30)?,
            quota: quantity("quota", f.quota)?,
            per: QuotaPer::parse(&f.per)?,
        })
    }
}

/// Relief days and "admitted today" follow the clock on the wall in Zhejiang (UTC+8), not
/// UTC, whose midnight falls at eight in the morning there.
pub const LOCAL_UTC_OFFSET_HOURS: i32 = 8;

fn local_offset() -> chrono::FixedOffset {
    use chrono::Offset;
    chrono::FixedOffset::east_opt(LOCAL_UTC_OFFSET_HOURS * 3600)
        .unwrap_or_else(|| chrono::Utc.fix())
}

/// The local day an instant falls on.
pub fn local_day(now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    now.with_timezone(&local_offset()).date_naive()
}

/// The instant the local day of `now` began.
pub fn local_day_start(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let day = local_day(now);
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(local_offset()).single())
        .map_or(now, |t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ShelterForm {
        ShelterForm {
            name: " 益农镇中心小学 ".into(),
            location: Location {
                lat: 30.24,
                lon: 120.4,
            },
            capacity: 300,
            accessibility: vec!["wheelchair".into(), "infants".into(), "wheelchair".into()],
        }
    }

    #[test]
    fn the_local_day_starts_at_midnight_in_zhejiang() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-07-30T17:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(local_day(t).to_string(), "2026-07-31");
        assert_eq!(local_day_start(t).to_rfc3339(), "2026-07-30T16:00:00+00:00");
    }

    #[test]
    fn a_shelter_parses_trimmed_with_its_accessibility_once_each() {
        let s = NewShelter::parse(&form()).unwrap();
        assert_eq!(s.name, "益农镇中心小学");
        assert_eq!(
            s.accessibility,
            vec![Accessibility::Wheelchair, Accessibility::Infants]
        );
    }

    #[test]
    fn bad_shelters_are_refused_with_the_field_named() {
        let mut f = form();
        f.capacity = -1;
        assert_eq!(NewShelter::parse(&f).unwrap_err().field, "capacity");
        let mut f = form();
        f.capacity = MAX_CAPACITY + 1;
        assert_eq!(NewShelter::parse(&f).unwrap_err().field, "capacity");
        let mut f = form();
        f.name = "  ".into();
        assert_eq!(NewShelter::parse(&f).unwrap_err().field, "name");
        let mut f = form();
        f.accessibility = vec!["sauna".into()];
        assert_eq!(NewShelter::parse(&f).unwrap_err().field, "accessibility");
        let mut f = form();
        f.location.lat = 91.0;
        assert_eq!(NewShelter::parse(&f).unwrap_err().field, "location.lat");
    }

    #[test]
    fn relief_items_need_a_positive_quota_and_a_known_unit_of_count() {
        let f = ReliefItemForm {
            name: "饮用水".into(),
            unit: "bottle".into(),
            quota: 4,
            per: "person".into(),
        };
        assert_eq!(NewReliefItem::parse(&f).unwrap().per, QuotaPer::Person);
        for (quota, per, field) in [(0, "person", "quota"), (3, "family", "per")] {
            let bad = ReliefItemForm {
                quota,
                per: per.into(),
                ..f.clone()
            };
            assert_eq!(NewReliefItem::parse(&bad).unwrap_err().field, field);
        }
    }
}
