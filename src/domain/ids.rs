//! The random public ids that name residents and users in URLs and codes, and the status
//! index (a resident's slot in the status list) with the size of the slot space.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A resident's public id: random, never derived from personal data. It is the `sub` of
/// their code and the id in every URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResidentId(pub Uuid);

impl ResidentId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A staff member's, official's or admin's public id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl UserId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A resident's slot in the offline status list. Drawn at random so that a slot says
/// nothing about when or where someone registered (herd privacy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusIndex(pub u32);

impl TryFrom<i32> for StatusIndex {
    type Error = std::num::TryFromIntError;

    /// From the database column: a negative value is corrupt data, never slot 0 (that
    /// would point a code at someone else's status).
    fn try_from(v: i32) -> Result<Self, Self::Error> {
        u32::try_from(v).map(StatusIndex)
    }
}

/// A district (DESIGN.md, "Status lists per district"): the number an SC1 code carries in its
/// `district` claim and the list its status slot belongs to. Codes without the claim belong
/// to the default list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DistrictId(u8);

/// Where district slots live in the one `residents.status_index` column: district `d` owns the
/// window `[DISTRICT_BASE + (d - 1) * DISTRICT_WINDOW, … + DISTRICT_WINDOW)`, so the column's
/// uniqueness still holds every slot, and the default list keeps `[0, DISTRICT_BASE)`.
pub const DISTRICT_BASE: u32 = 1 << 30;
/// A district's list can grow to this many slots: 8.4 M, residents up to half of it.
pub const DISTRICT_WINDOW: u32 = 1 << 23;
/// As many districts as fit above the default list's slots (Zhejiang has about 90).
pub const MAX_DISTRICTS: u8 = 128;

impl DistrictId {
    /// `None` outside `1..=MAX_DISTRICTS`.
    pub fn new(n: i64) -> Option<Self> {
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_DISTRICTS).contains(n))
            .map(DistrictId)
    }

    pub fn get(self) -> u8 {
        self.0
    }

    fn base(self) -> u32 {
        DISTRICT_BASE + (u32::from(self.0) - 1) * DISTRICT_WINDOW
    }

    /// The stored status indexes of this district's slots, `[start, end)`.
    pub fn window(self) -> (u32, u32) {
        (self.base(), self.base() + DISTRICT_WINDOW)
    }
}

impl fmt::Display for DistrictId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a list is keyed where lists are stored and marked: the district's number, 0 for the
/// default list (as `store::status_lists::DISTRICT_OF_SLOT` computes it in SQL).
pub fn list_key(district: Option<DistrictId>) -> i64 {
    district.map_or(0, |d| i64::from(d.get()))
}

/// Which list, and where in it: what a code's `district` and `status index` claims say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSlot {
    /// `None`: the default list.
    pub district: Option<DistrictId>,
    pub index: StatusIndex,
}

impl ListSlot {
    /// From the stored column; `None` for a value no slot can have (corrupt data).
    pub fn from_stored(v: i32) -> Option<Self> {
        let v = u32::try_from(v).ok()?;
        if v < DISTRICT_BASE {
            return Some(ListSlot {
                district: None,
                index: StatusIndex(v),
            });
        }
        let d = (v - DISTRICT_BASE) / DISTRICT_WINDOW + 1;
        let district = DistrictId::new(i64::from(d))?;
        Some(ListSlot {
            district: Some(district),
            index: StatusIndex(v - district.base()),
        })
    }

    /// The stored column's value.
    pub fn stored(self) -> i32 {
        let v = match self.district {
            None => self.index.0,
            Some(d) => d.base() + self.index.0,
        };
        // Every slot is below 2^31: the default list stays under DISTRICT_BASE and the
        // last window ends at 2^31.
        i32::try_from(v).unwrap_or(i32::MAX)
    }
}

/// The smallest status list: a list never reveals how few residents there are.
pub const MIN_STATUS_SPACE: u32 = 131_072;

/// How many slots the status list needs so that `residents` fit at most half full,
/// which keeps random slot draws cheap (a draw hits a taken slot at most half the time).
pub fn status_space_for(residents: u64) -> u32 {
    let wanted = residents.saturating_mul(2).max(MIN_STATUS_SPACE as u64);
    let space = wanted.checked_next_power_of_two().unwrap_or(u64::MAX);
    space.min(u64::from(DISTRICT_BASE)) as u32
}

/// The same for a district's list, which cannot outgrow its window.
pub fn district_space_for(residents: u64) -> u32 {
    status_space_for(residents).min(DISTRICT_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_space_never_below_minimum_and_stays_half_empty() {
        assert_eq!(status_space_for(0), MIN_STATUS_SPACE);
        assert_eq!(status_space_for(65_536), MIN_STATUS_SPACE);
        assert_eq!(status_space_for(65_537), 262_144);
        assert_eq!(status_space_for(1_000_000), 2_097_152);
        assert_eq!(status_space_for(u64::MAX), DISTRICT_BASE);
        assert_eq!(district_space_for(10_000_000), DISTRICT_WINDOW);
    }

    #[test]
    fn district_slots_round_trip_and_never_meet() {
        let first = DistrictId::new(1).unwrap();
        let last = DistrictId::new(i64::from(MAX_DISTRICTS)).unwrap();
        assert_eq!(DistrictId::new(0), None);
        assert_eq!(DistrictId::new(i64::from(MAX_DISTRICTS) + 1), None);
        assert_eq!(last.window().1, 1 << 31);
        for slot in [
            ListSlot {
                district: None,
                index: StatusIndex(0),
            },
            ListSlot {
                district: None,
                index: StatusIndex(DISTRICT_BASE - 1),
            },
            ListSlot {
                district: Some(first),
                index: StatusIndex(0),
            },
            ListSlot {
                district: Some(first),
                index: StatusIndex(DISTRICT_WINDOW - 1),
            },
            ListSlot {
                district: Some(last),
                index: StatusIndex(DISTRICT_WINDOW - 1),
            },
        ] {
            assert!(slot.stored() >= 0);
            assert_eq!(ListSlot::from_stored(slot.stored()), Some(slot));
        }
        // The last slot of district 1 and the first of district 2 are neighbours, not one.
        let end_of_1 = ListSlot {
            district: Some(first),
            index: StatusIndex(DISTRICT_WINDOW - 1),
        };
        let next = ListSlot::from_stored(end_of_1.stored() + 1).unwrap();
        assert_eq!(next.district, DistrictId::new(2));
        assert_eq!(next.index, StatusIndex(0));
        assert_eq!(ListSlot::from_stored(-1), None);
    }
}
