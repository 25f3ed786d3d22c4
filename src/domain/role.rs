//! The roles a bearer token can speak for.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who a bearer token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Resident,
    Staff,
    Official,
    Admin,
    /// The SMS/voice gateway: reads and marks the outbox, nothing else.
    Gateway,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Resident,
        Role::Staff,
        Role::Official,
        Role::Admin,
        Role::Gateway,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Staff => "staff",
            Role::Official => "official",
            Role::Admin => "admin",
            Role::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                "unknown role (expected one of resident, staff, official, admin, gateway)"
                    .to_owned()
            })
    }
}
