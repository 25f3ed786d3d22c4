//! Who may do what: every role check in one table.

use super::{Result, ServiceError};
use crate::domain::user::Jurisdiction;
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
        /// Parsed once when the token is resolved; `None`: acts everywhere.
        jurisdiction: Option<Jurisdiction>,
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
    /// See and decide what waits for a second official (overrides, fact changes, rule sets).
    DecideApprovals,
    /// Draw districts (each has its own status list).
    ManageDistricts,
    /// See the districts (staff choose the neighbours their offline bundle carries).
    ReadDistricts,
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
        // Admins decide rule sets only (the service narrows by kind).
        DecideApprovals => matches!(role, Official | Admin),
        ReadRules => matches!(role, Official | Admin),
        ManageRules => matches!(role, Official | Admin),
        Appeal => role == Resident,
        RotateKeys | ManageDistricts => role == Admin,
        ReadDistricts => matches!(role, Staff | Official | Admin),
        Verify => matches!(role, Staff | Official | Admin),
        ManageShelters => role == Official,
        ReadShelters => role != Gateway,
        ActAtShelter | ReadRelief => matches!(role, Staff | Official),
        SendAlerts | ManageReports => role == Official,
        // Its own role: whoever runs the gateway holds no admin rights and reads no one else.
        DrainOutbox => role == Gateway,
    }
}

/// An official's district, if they were given one.
pub fn jurisdiction(p: &Principal) -> Option<&Jurisdiction> {
    match p {
        Principal::User {
            jurisdiction: Some(j),
            ..
        } => Some(j),
        _ => None,
    }
}

/// An official or admin without a district: decisions that apply everywhere (rule sets,
/// incidents) are theirs alone.
pub fn is_province_level(p: &Principal) -> bool {
    matches!(p.role(), Role::Official | Role::Admin) && jurisdiction(p).is_none()
}

/// Whether `p` may see something located at `location`: everyone without a district sees
/// everything their role allows; an official with one sees only what lies inside it (a
/// person without a location lies in no district).
pub fn sees(p: &Principal, location: Option<Location>) -> bool {
    match (jurisdiction(p), location) {
        (None, _) => true,
        (Some(j), Some(l)) => j.contains(l),
        (Some(_), None) => false,
    }
}

/// An official with a jurisdiction acts only on zones inside it.
pub fn ensure_zone_in_jurisdiction(p: &Principal, zone: &Area) -> Result<()> {
    match jurisdiction(p) {
        Some(j) if !j.covers(zone) => Err(ServiceError::OutsideJurisdiction),
        _ => Ok(()),
    }
}

/// An official with a jurisdiction acts only on residents (and reports, shelters...) located
/// inside it.
pub fn ensure_resident_in_jurisdiction(p: &Principal, location: Option<Location>) -> Result<()> {
    if sees(p, location) {
        Ok(())
    } else {
        Err(ServiceError::OutsideJurisdiction)
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

    const ALL_ACTIONS: [Action; 24] = [
        Action::CreateUser,
        Action::DisableUser,
        Action::ReadResident,
        Action::UpdateResident,
        Action::ImportResidents,
        Action::ReadOwnProfile,
        Action::ReadAudit,
        Action::VerifyAudit,
        Action::ManageZones,
        Action::ManageOverrides,
        Action::ReadRules,
        Action::ManageRules,
        Action::Appeal,
        Action::DecideAppeals,
        Action::RotateKeys,
        Action::Verify,
        Action::ManageShelters,
        Action::ReadShelters,
        Action::ActAtShelter,
        Action::ReadRelief,
        Action::SendAlerts,
        Action::ManageReports,
        Action::DrainOutbox,
        Action::DecideApprovals,
    ];

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
        // The gateway drains the outbox and does nothing else; nobody else drains it.
        assert!(allowed(Role::Gateway, Action::DrainOutbox));
        for role in Role::ALL {
            assert_eq!(allowed(role, Action::DrainOutbox), role == Role::Gateway);
        }
        let gateway_may: Vec<Action> = ALL_ACTIONS
            .into_iter()
            .filter(|a| allowed(Role::Gateway, *a))
            .collect();
        assert_eq!(gateway_may, vec![Action::DrainOutbox]);
    }
}
