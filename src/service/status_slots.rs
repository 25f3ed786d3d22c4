//! Status slots: each resident's random place in the status list (herd privacy: a slot says
//! nothing about when or where someone registered). The size of the slot space, one insert on
//! a random free slot, and the bitmap a bulk import draws free slots from.

use super::{Result, ServiceError};
use crate::domain::ids::{MIN_STATUS_SPACE, status_space_for};
use crate::store::{self, meta, residents};
use rand::Rng;

const STATUS_SPACE_KEY: &str = "status_space";

pub async fn status_space(tx: &mut store::Tx) -> Result<u32> {
    Ok(meta::get(tx, STATUS_SPACE_KEY)
        .await?
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(MIN_STATUS_SPACE)
        .max(MIN_STATUS_SPACE))
}

pub async fn raise_status_space(tx: &mut store::Tx, to: u32) -> Result<()> {
    meta::raise_to(tx, STATUS_SPACE_KEY, i64::from(to)).await?;
    Ok(())
}

/// A self-registered record: the holder of its document, or a claim beside the holder.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub id: i64,
    pub claim: bool,
}

/// Inserts one resident on a random free status slot. A draw that keeps hitting taken slots
/// means the list is filling up: it doubles.
pub async fn insert_on_random_slot(
    tx: &mut store::Tx,
    row: &mut residents::ResidentRow,
) -> Result<Stored> {
    let mut space = status_space(tx).await?;
    for attempt in 0..64 {
        row.status_index = rand::rng().random_range(0..space) as i32;
        match residents::insert_one(tx, row).await? {
            residents::Registered::Holder(id) => return Ok(Stored { id, claim: false }),
            residents::Registered::Claim(id) => return Ok(Stored { id, claim: true }),
            residents::Registered::SlotTaken if attempt >= 2 && space < (1 << 30) => {
                space *= 2;
                raise_status_space(tx, space).await?;
            }
            residents::Registered::SlotTaken => {}
        }
    }
    Err(ServiceError::internal("no free status slot found"))
}

/// Free status slots drawn from a bitmap of the slots in use, so that a batch never needs
/// the database to find one.
pub struct Slots {
    used: Vec<u64>,
    pub space: u32,
    count: u64,
}

impl Slots {
    pub fn new(taken: &[i32], space: u32) -> Self {
        let space = space.max(status_space_for(taken.len() as u64));
        let mut s = Slots {
            used: vec![0; (space as usize).div_ceil(64)],
            space,
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

    /// Makes room for `more` residents; true if the space grew.
    pub fn reserve(&mut self, more: u64) -> bool {
        let wanted = status_space_for(self.count + more);
        if wanted > self.space {
            self.space = wanted;
            self.used.resize((wanted as usize).div_ceil(64), 0);
            true
        } else {
            false
        }
    }

    pub fn draw(&mut self, rng: &mut impl Rng) -> i32 {
        loop {
            let i = rng.random_range(0..self.space);
            if !self.is_used(i) {
                self.mark(i);
                return i as i32;
            }
        }
    }
}
