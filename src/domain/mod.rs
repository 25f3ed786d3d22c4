//! Plain types that parse, don't validate: once a value of these types exists, it is valid.
//! No IO here.

pub mod alert;
pub mod audit;
pub mod colour;
pub mod credentials;
pub mod display;
pub mod document;
pub mod ids;
pub mod location;
pub mod message;
pub mod report;
pub mod resident;
pub mod role;
pub mod shelter;
pub mod user;
pub mod vocabulary;

pub use audit::{AuditDraft, ChainHash};
pub use colour::{Colour, OrderLevel};
pub use document::{IdDocument, IdType};
pub use ids::{DistrictId, ListSlot, ResidentId, StatusIndex, UserId};
pub use resident::{
    BirthYear, Flag, Location, Need, NewResident, Phone, ResidentName, ResidentPatch,
};
pub use role::Role;
pub use user::UserName;

/// Why a value was refused: a stable machine code and a human message.
/// The message never repeats the offending value (it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error, reported under a nested field name (`dependents[2].name`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}
