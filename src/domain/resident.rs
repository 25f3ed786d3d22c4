//! A resident as a registration form brings them and as it is parsed: name, document, phone,
//! address, location, birth year, needs; and an official's patch of their facts. (Positions
//! are `domain::location`, the closed word sets `domain::vocabulary`, the masked name a code
//! shows `domain::display`; they are re-exported here.)

pub use super::display::{display_text, masked_latin, masked_name};
pub use super::location::Location;
pub(crate) use super::vocabulary::vocabulary;
pub use super::vocabulary::{Flag, Need, SafeStatus, pack_facts, unpack_facts};
use super::{IdDocument, IdType, Invalid};
use serde::{Deserialize, Serialize};

/// A person's name as they write it: 1–100 characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ResidentName(String);

impl ResidentName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 {
            return Err(Invalid::new("name", "name_missing", "name is empty"));
        }
        if len > 100 {
            return Err(Invalid::new(
                "name",
                "name_too_long",
                "name is longer than 100 characters",
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "name",
                "name_invalid",
                "name contains control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ResidentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResidentName(…)")
    }
}

/// A phone number in E.164 form (`+8613912345678`). Mainland mobile numbers may be given
/// without the country code.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let bad = || {
            Invalid::new(
                "phone",
                "invalid_phone",
                "phone must be a mainland mobile number (11 digits starting 13–19) or an E.164 number (+ and 8–15 digits)",
            )
        };
        let is_cn_mobile = |d: &str| {
            d.len() == 11
                && d.bytes().all(|b| b.is_ascii_digit())
                && d.as_bytes()[0] == b'1'
                && (b'3'..=b'9').contains(&d.as_bytes()[1])
        };
        if let Some(rest) = compact.strip_prefix('+') {
            if let Some(cn) = rest.strip_prefix("86") {
                return if is_cn_mobile(cn) {
                    Ok(Self(compact))
                } else {
                    Err(bad())
                };
            }
            let ok = (8..=15).contains(&rest.len())
                && rest.bytes().all(|b| b.is_ascii_digit())
                && !rest.starts_with('0');
            return if ok { Ok(Self(compact)) } else { Err(bad()) };
        }
        if is_cn_mobile(&compact) {
            Ok(Self(format!("+86{compact}")))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phone(…)")
    }
}

/// A plausible year of birth: not before 1900, not in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BirthYear(i32);

impl BirthYear {
    pub fn parse(year: i64, current_year: i32) -> Result<Self, Invalid> {
        if year < 1900 || year > i64::from(current_year) {
            return Err(Invalid::new(
                "birth_year",
                "invalid_birth_year",
                format!("birth_year must be between 1900 and {current_year}"),
            ));
        }
        Ok(Self(year as i32))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// Longest address kept; anything longer is a mistake or an attack.
pub const MAX_ADDRESS_CHARS: usize = 200;

fn parse_address(raw: &str) -> Result<Option<String>, Invalid> {
    let a = raw.trim();
    if a.is_empty() {
        return Ok(None);
    }
    if a.chars().count() > MAX_ADDRESS_CHARS || a.chars().any(char::is_control) {
        return Err(Invalid::new(
            "address",
            "invalid_address",
            format!(
                "address must be at most {MAX_ADDRESS_CHARS} characters, without control characters"
            ),
        ));
    }
    Ok(Some(a.to_owned()))
}

/// A registration as it arrives (JSON body or CSV line), before any check.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentForm {
    pub name: String,
    #[serde(default)]
    pub id_type: Option<IdType>,
    pub id_number: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub birth_year: Option<i64>,
    #[serde(default)]
    pub needs: Vec<String>,
    /// The language alerts reach this household in: `zh` (default) or `en`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Household members registered with this resident as their head (at most 20; they may
    /// not have dependents of their own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub dependents: Vec<ResidentForm>,
}

/// A resident that has passed every check and may be stored.
#[derive(Debug, Clone)]
pub struct NewResident {
    pub name: ResidentName,
    pub document: IdDocument,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    pub location: Option<Location>,
    pub birth_year: Option<BirthYear>,
    pub needs: Vec<Need>,
}

impl NewResident {
    pub fn parse(form: &ResidentForm, current_year: i32) -> Result<Self, Invalid> {
        let name = ResidentName::parse(&form.name)?;
        let document = IdDocument::parse(form.id_type.unwrap_or_default(), &form.id_number)?;
        let phone = match form.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(Phone::parse(p)?),
        };
        let address = match form.address.as_deref() {
            None => None,
            Some(a) => parse_address(a)?,
        };
        let location = form
            .location
            .map(|l| Location::parse(l.lat, l.lon))
            .transpose()?;
        let birth_year = match (form.birth_year, document.birth_year()) {
            (Some(given), Some(on_card)) if given != i64::from(on_card) => {
                return Err(Invalid::new(
                    "birth_year",
                    "birth_year_mismatch",
                    "birth_year differs from the birth date inside the ID number",
                ));
            }
            (Some(given), _) => Some(BirthYear::parse(given, current_year)?),
            (None, Some(on_card)) => Some(BirthYear::parse(i64::from(on_card), current_year)?),
            (None, None) => None,
        };
        let needs = Need::parse_set(form.needs.iter().map(String::as_str))?;
        Ok(Self {
            name,
            document,
            phone,
            address,
            location,
            birth_year,
            needs,
        })
    }

    /// A dependent registered with a head of household shares the household's address,
    /// phone and location unless given their own.
    pub fn inherit_from(&mut self, head: &NewResident) {
        if self.phone.is_none() {
            self.phone = head.phone.clone();
        }
        if self.address.is_none() {
            self.address = head.address.clone();
        }
        if self.location.is_none() {
            self.location = head.location;
        }
    }
}

/// The facts an official may change about a resident. `None` leaves a fact as it is;
/// `Some(None)` for location or address clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResidentPatch {
    pub needs: Option<Vec<Need>>,
    pub flags: Option<Vec<Flag>>,
    pub location: Option<Option<Location>>,
    pub address: Option<Option<String>>,
    pub phone: Option<Option<Phone>>,
    /// Why the change was made, for the audit trail.
    pub reason: Option<String>,
}

/// An optional free-text reason for the audit trail: trimmed, empty means none, at most
/// `max` characters.
pub fn optional_reason(raw: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    let reason = raw.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > max) {
        return Err(Invalid::new(
            "reason",
            "invalid_reason",
            format!("reason is longer than {max} characters"),
        ));
    }
    Ok(reason.map(str::to_owned))
}

/// A patch as it arrives: `null` clears, an absent field is left alone. (Serialised as it
/// came, for a change that waits for a second official.)
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentPatchForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<Location>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Tells a field given as `null` (clear it) from a field not given at all.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ResidentPatch {
    pub fn parse(form: &ResidentPatchForm) -> Result<Self, Invalid> {
        let patch = Self {
            needs: form
                .needs
                .as_ref()
                .map(|n| Need::parse_set(n.iter().map(String::as_str)))
                .transpose()?,
            flags: form
                .flags
                .as_ref()
                .map(|f| Flag::parse_set(f.iter().map(String::as_str)))
                .transpose()?,
            location: form
                .location
                .map(|l| l.map(|l| Location::parse(l.lat, l.lon)).transpose())
                .transpose()?,
            address: form
                .address
                .as_ref()
                .map(|a| match a {
                    None => Ok(None),
                    Some(a) => parse_address(a),
                })
                .transpose()?,
            phone: form
                .phone
                .as_ref()
                .map(|p| p.as_deref().map(Phone::parse).transpose())
                .transpose()?,
            reason: None,
        };
        if patch == Self::default() {
            return Err(Invalid::new(
                "body",
                "empty_patch",
                "nothing to change: give at least one of needs, flags, location, address, phone",
            ));
        }
        Ok(Self {
            reason: optional_reason(form.reason.as_deref(), 500)?,
            ..patch
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ResidentForm {
        ResidentForm {
            language: None,
            name: "王小明".into(),
            id_number: "11010519491231002X".into(),
            phone: Some("139 1234 5678".into()),
            location: Some(Location {
                lat: 30.18,
                lon: 120.26,
            }),
            needs: vec!["elderly".into(), "medical".into(), "elderly".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_parses_and_normalises() {
        let r = NewResident::parse(&form(), 2026).unwrap();
        assert_eq!(r.phone.unwrap().as_str(), "+8613912345678");
        assert_eq!(r.birth_year.unwrap().get(), 1949);
        assert_eq!(r.needs, vec![Need::Elderly, Need::Medical]);
    }

    #[test]
    fn names() {
        assert_eq!(ResidentName::parse("  ").unwrap_err().code, "name_missing");
        assert_eq!(
            ResidentName::parse(&"名".repeat(101)).unwrap_err().code,
            "name_too_long"
        );
        assert!(ResidentName::parse(&"名".repeat(100)).is_ok());
        assert_eq!(
            ResidentName::parse("a\u{0}b").unwrap_err().code,
            "name_invalid"
        );
    }

    #[test]
    fn phones() {
        assert!(Phone::parse("13912345678").is_ok());
        assert!(Phone::parse("+86 139-1234-5678").is_ok());
        assert!(Phone::parse("+4915112345678").is_ok());
        for bad in [
            "12912345678",
            "1391234567",
            "+86 1201234567",
            "+0123456789",
            "phone",
            "+1234567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn birth_year_must_be_plausible_and_match_the_card() {
        let mut f = form();
        f.birth_year = Some(1950);
        assert_eq!(
            NewResident::parse(&f, 2026).unwrap_err().code,
            "birth_year_mismatch"
        );
        f.id_type = Some(IdType::Passport);
        f.id_number = "E12345678".into();
        f.birth_year = Some(1899);
        assert_eq!(
            NewResident::parse(&f, 2026).unwrap_err().code,
            "invalid_birth_year"
        );
        f.birth_year = Some(2027);
        assert_eq!(
            NewResident::parse(&f, 2026).unwrap_err().code,
            "invalid_birth_year"
        );
    }

    #[test]
    fn needs_come_from_a_fixed_vocabulary() {
        let mut f = form();
        f.needs = vec!["vip".into()];
        assert_eq!(
            NewResident::parse(&f, 2026).unwrap_err().code,
            "invalid_need"
        );
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let f: ResidentPatchForm = serde_json::from_str(r#"{"location": null}"#).unwrap();
        assert_eq!(ResidentPatch::parse(&f).unwrap().location, Some(None));
        let f: ResidentPatchForm = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(ResidentPatch::parse(&f).unwrap_err().code, "empty_patch");
    }
}
