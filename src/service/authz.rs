//! Who may do what: every role check in one table.

use super::{Result, ServiceError};
use crate::domain::{Location, ResidentId, Role, UserId};
use crate::geo::Area;
use uuid::Uuid;

/// The holder of a valid bearer token.
#[derive(Debug, Clone)]
pub enum Principal {
    User {
        id: UserId,
        internal: i64,
        role: Role,
        shelters: Vec<Uuid>,
        jurisdiction: Option<serde_json::Value>,
    },
    Resident {
        id: ResidentId,
        internal: i64,
    },
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::User { role, .. } => *role,
            Principal::Resident { .. } => Role::Resident,
        }
    }

    /// How the audit log names this actor: a role and a random id, never a name.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { id, role, .. } => format!("{role}:{id}"),
            Principal::Resident { id, .. } => format!("resident:{id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateUser,
    DisableUser,
    ReadResident,
    UpdateResident,
    ImportResidents,
    ReadOwnProfile,
    ReadAudit,
    VerifyAudit,
    /// Zones, orders, incidents, per-zone counts and lists.
    ManageZones,
    /// Request an override, approve or reject one, clear one.
    ManageOverrides,
    ReadRules,
    ManageRules,
    Appeal,
    DecideAppeals,
    RotateKeys,
    /// Scan a code at a shelter or checkpoint.
    Verify,
    /// Open, change and close shelters; define relief items.
    ManageShelters,
    /// See shelters with their occupancy (everyone: residents look for the nearest).
    ReadShelters,
    /// Admit, check out, hand out relief, see who is in: staff only at their own shelters.
    ActAtShelter,
    /// See relief items.
    ReadRelief,
    /// Send alerts, see who acknowledged them and who is still to reach.
    SendAlerts,
    /// See hazard reports and move them through their workflow.
    ManageReports,
    /// Drain the outbox as an SMS or voice gateway.
    DrainOutbox,
}

/// The single table of which role may do what.
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        CreateUser | DisableUser => role == Admin,
        ReadResident | UpdateResident | ImportResidents => role == Official,
        ReadOwnProfile => role == Resident,
        // A resident reads the entries about themselves; the service narrows the filter.
        ReadAudit => matches!(role, Official | Admin | Resident),
        VerifyAudit => matches!(role, Official | Admin),
        ManageZones | ManageOverrides | DecideAppeals => role == Official,
        ReadRules => matches!(role, Official | Admin),
        ManageRules => matches!(role, Official | Admin),
        Appeal => role == Resident,
        RotateKeys => role == Admin,
        Verify => matches!(role, Staff | Official | Admin),
        ManageShelters => role == Official,
        ReadShelters => true,
        ActAtShelter | ReadRelief => matches!(role, Staff | Official),
        SendAlerts | ManageReports => role == Official,
        DrainOutbox => role == Admin,
    }
}

/// An official's district, if they were given one.
pub fn jurisdiction(p: &Principal) -> Option<Area> {
    match p {
        Principal::User {
            jurisdiction: Some(j),
            ..
        } => match Area::from_geometry(j) {
            Ok(a) => Some(a),
            // Stored jurisdictions were checked on the way in; if one no longer parses, deny
            // everything rather than grant everything.
            Err(_) => Some(Area {
                shape: ::geo::MultiPolygon::new(Vec::new()),
                bbox: ::geo::Rect::new((0.0, 0.0), (0.0, 0.0)),
                vertices: 0,
            }),
        },
        _ => None,
    }
}

/// An official with a jurisdiction acts only on zones inside it.
pub fn ensure_zone_in_jurisdiction(p: &Principal, zone: &Area) -> Result<()> {
    match jurisdiction(p) {
        Some(j) if !zone.within(&j) => Err(ServiceError::OutsideJurisdiction),
        _ => Ok(()),
    }
}

/// An official with a jurisdiction acts only on residents located inside it.
pub fn ensure_resident_in_jurisdiction(p: &Principal, location: Option<Location>) -> Result<()> {
    match (jurisdiction(p), location) {
        (None, _) => Ok(()),
        (Some(j), Some(l)) if j.contains(l) => Ok(()),
        _ => Err(ServiceError::OutsideJurisdiction),
    }
}

/// Staff act only at the shelters they are bound to; officials at any.
pub fn ensure_at_shelter(p: &Principal, shelter: uuid::Uuid) -> Result<()> {
    authorize(p, Action::ActAtShelter)?;
    match p {
        Principal::User {
            role: Role::Staff,
            shelters,
            ..
        } if !shelters.contains(&shelter) => Err(ServiceError::Forbidden),
        _ => Ok(()),
    }
}

pub fn authorize(p: &Principal, action: Action) -> Result<()> {
    if allowed(p.role(), action) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_users_and_only_officials_touch_residents() {
        for role in Role::ALL {
            assert_eq!(allowed(role, Action::CreateUser), role == Role::Admin);
            assert_eq!(
                allowed(role, Action::UpdateResident),
                role == Role::Official
            );
            assert_eq!(
                allowed(role, Action::ReadOwnProfile),
                role == Role::Resident
            );
        }
        assert!(!allowed(Role::Staff, Action::ReadAudit));
        assert!(!allowed(Role::Resident, Action::VerifyAudit));
    }
}
