//! The three colours of a code and the order levels an evacuation order can have, each
//! ordered so that "worse" compares greater.

use serde::{Deserialize, Serialize};

/// What must happen to a resident now. Ordered: a worse colour is greater.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

impl Colour {
    pub const ALL: [Colour; 3] = [Colour::Green, Colour::Yellow, Colour::Red];

    /// The number in tokens and the status list (0 green, 1 yellow, 2 red).
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: i64) -> Option<Self> {
        Colour::ALL.get(usize::try_from(c).ok()?).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }
}

/// The highest evacuation order in force over a resident's zones. Ordered by severity.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OrderLevel {
    #[default]
    None,
    Advisory,
    Mandatory,
}

impl OrderLevel {
    /// Stored as a small integer so that SQL can take the maximum.
    pub fn rank(self) -> i32 {
        self as i32
    }

    pub fn from_rank(r: i64) -> Self {
        match r {
            2.. => OrderLevel::Mandatory,
            1 => OrderLevel::Advisory,
            _ => OrderLevel::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderLevel::None => "none",
            OrderLevel::Advisory => "advisory",
            OrderLevel::Mandatory => "mandatory",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worse_is_greater() {
        assert!(Colour::Red > Colour::Yellow && Colour::Yellow > Colour::Green);
        assert!(OrderLevel::Mandatory > OrderLevel::Advisory);
        for c in Colour::ALL {
            assert_eq!(Colour::from_code(i64::from(c.code())), Some(c));
        }
        assert_eq!(
            OrderLevel::from_rank(OrderLevel::Mandatory.rank() as i64),
            OrderLevel::Mandatory
        );
    }
}
