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

/// The smallest status list: a list never reveals how few residents there are.
pub const MIN_STATUS_SPACE: u32 = 131_072;

/// How many slots the status list needs so that `residents` fit at most half full,
/// which keeps random slot draws cheap (a draw hits a taken slot at most half the time).
pub fn status_space_for(residents: u64) -> u32 {
    let wanted = residents.saturating_mul(2).max(MIN_STATUS_SPACE as u64);
    let space = wanted.checked_next_power_of_two().unwrap_or(u64::MAX);
    space.min(1 << 31) as u32
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
    }
}
