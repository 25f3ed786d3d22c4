//! Status slots: each resident's random place in their district's status list, or the default
//! one (herd privacy: a slot says nothing about when or where someone registered). The size of
//! each list, one insert on a random free slot, and the bitmaps a bulk import draws from.

use super::{Result, ServiceError};
use crate::domain::ids::{DISTRICT_BASE, DISTRICT_WINDOW, MIN_STATUS_SPACE, status_space_for};
use crate::domain::{DistrictId, ListSlot, Location, StatusIndex};
use crate::store::{self, meta, residents};
use rand::Rng;

const STATUS_SPACE_KEY: &str = "status_space";

/// The meta key holding a list's size: the default list keeps its old key.
fn space_key(district: Option<DistrictId>) -> String {
    match district {
        None => STATUS_SPACE_KEY.to_owned(),
        Some(d) => format!("{STATUS_SPACE_KEY}:{d}"),
    }
}

/// How many slots a list has now (never fewer than the minimum).
pub async fn list_space(tx: &mut store::Tx, district: Option<DistrictId>) -> Result<u32> {
    Ok(meta::get(tx, &space_key(district))
        .await?
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(MIN_STATUS_SPACE)
        .clamp(MIN_STATUS_SPACE, max_space(district)))
}

fn max_space(district: Option<DistrictId>) -> u32 {
    match district {
        None => DISTRICT_BASE,
        Some(_) => DISTRICT_WINDOW,
    }
}

pub async fn raise_list_space(
    tx: &mut store::Tx,
    district: Option<DistrictId>,
    to: u32,
) -> Result<()> {
    meta::raise_to(tx, &space_key(district), i64::from(to)).await?;
    Ok(())
}

/// A self-registered record: the holder of its document, or a claim beside the holder.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub id: i64,
    pub claim: bool,
}

/// Inserts one resident on a random free slot of the list of the district they live in
/// (`at`; the default list outside every district). A draw that keeps hitting taken slots
/// means the list is filling up: it doubles.
pub async fn insert_on_random_slot(
    tx: &mut store::Tx,
    row: &mut residents::ResidentRow,
    at: Option<Location>,
) -> Result<Stored> {
    let district = super::districts::locate(tx, at).await?;
    let mut space = list_space(tx, district).await?;
    for attempt in 0..64 {
        row.status_index = ListSlot {
            district,
            index: StatusIndex(rand::rng().random_range(0..space)),
        }
        .stored();
        match residents::insert_one(tx, row).await? {
            residents::Registered::Holder(id) => return Ok(Stored { id, claim: false }),
            residents::Registered::Claim(id) => return Ok(Stored { id, claim: true }),
            residents::Registered::SlotTaken if attempt >= 2 && space < max_space(district) => {
                space *= 2;
                raise_list_space(tx, district, space).await?;
            }
            residents::Registered::SlotTaken => {}
        }
    }
    Err(ServiceError::internal("no free status slot found"))
}

/// Free status slots of one list drawn from a bitmap of the slots in use, so that a batch
/// never needs the database to find one. Indexes are the list's own (`0..space`).
pub struct Slots {
    used: Vec<u64>,
    pub space: u32,
    max: u32,
    count: u64,
}

impl Slots {
    pub fn new(taken: &[i32], space: u32) -> Self {
        Self::within(taken, space, DISTRICT_BASE)
    }

    fn within(taken: &[i32], space: u32, max: u32) -> Self {
        let space = space.max(status_space_for(taken.len() as u64)).min(max);
        let mut s = Slots {
            used: vec![0; (space as usize).div_ceil(64)],
            space,
            max,
            count: 0,
        };
        for &i in taken {
            s.mark(i as u32);
        }
        s
    }

    fn mark(&mut self, i: u32) {
        let (w, b) = ((i / 64) as usize, i % 64);
        if w >= self.used.len() {
            self.used.resize(w + 1, 0);
        }
        if self.used[w] & (1 << b) == 0 {
            self.used[w] |= 1 << b;
            self.count += 1;
        }
    }

    fn is_used(&self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        self.used.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// Makes room for `more` residents; true if the space grew. Fails when the list would be
    /// more than three quarters full at its largest (draws would crawl).
    pub fn reserve(&mut self, more: u64) -> Result<bool> {
        if self.count + more > u64::from(self.max) / 4 * 3 {
            return Err(ServiceError::Conflict {
                code: "status_list_full",
                detail: "a district's status list has no room for this many more residents".into(),
            });
        }
        let wanted = status_space_for(self.count + more).min(self.max);
        if wanted > self.space {
            self.space = wanted;
            self.used.resize((wanted as usize).div_ceil(64), 0);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub fn draw(&mut self, rng: &mut impl Rng) -> u32 {
        loop {
            let i = rng.random_range(0..self.space);
            if !self.is_used(i) {
                self.mark(i);
                return i;
            }
        }
    }
}

/// The free slots of every list, and which list a located resident's slot goes in: what a
/// bulk import draws from.
pub struct ListSlots {
    lists: std::collections::HashMap<Option<DistrictId>, Slots>,
    locator: super::districts::Locator,
}

impl ListSlots {
    /// Reads every slot in use once (4 bytes a resident, dropped after).
    pub async fn load(db: &store::Db) -> Result<ListSlots> {
        let mut taken: std::collections::HashMap<Option<DistrictId>, Vec<i32>> =
            std::collections::HashMap::new();
        for stored in residents::status_indexes(db).await? {
            if let Some(s) = ListSlot::from_stored(stored) {
                taken.entry(s.district).or_default().push(s.index.0 as i32);
            }
        }
        let mut tx = db.begin().await?;
        let locator = super::districts::Locator::load(&mut tx).await?;
        let mut lists = std::collections::HashMap::new();
        for district in std::iter::once(None).chain(locator.districts().map(Some)) {
            let space = list_space(&mut tx, district).await?;
            let held = taken.remove(&district).unwrap_or_default();
            lists.insert(district, Slots::within(&held, space, max_space(district)));
        }
        tx.commit().await?;
        Ok(ListSlots { lists, locator })
    }

    /// The list a resident living at `at` takes a slot in.
    pub fn list_of(&self, at: Option<Location>) -> Option<DistrictId> {
        self.locator.locate(at)
    }

    /// Makes room in each list for the residents about to be drawn there, and records the
    /// lists that grew.
    pub async fn reserve(
        &mut self,
        tx: &mut store::Tx,
        wanted: &std::collections::HashMap<Option<DistrictId>, u64>,
    ) -> Result<()> {
        for (district, n) in wanted {
            if let Some(slots) = self.lists.get_mut(district)
                && slots.reserve(*n)?
            {
                raise_list_space(tx, *district, slots.space).await?;
            }
        }
        Ok(())
    }

    /// A free slot in a list, as stored.
    pub fn draw(&mut self, district: Option<DistrictId>, rng: &mut impl Rng) -> Result<i32> {
        let slots = self
            .lists
            .get_mut(&district)
            .ok_or_else(|| ServiceError::internal("a district drawn after the import began"))?;
        Ok(ListSlot {
            district,
            index: StatusIndex(slots.draw(rng)),
        }
        .stored())
    }
}
