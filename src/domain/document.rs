//! Identity documents: the PRC resident ID card (with its GB 11643 check character and the
//! birth date it encodes) and passports. Parsed once; only a keyed hash of the number and its
//! last four characters are ever stored.

use super::Invalid;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// 18-character resident identity card of the PRC (GB 11643).
    #[default]
    CnResidentId,
    Passport,
}

impl IdType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdType::CnResidentId => "cn_resident_id",
            IdType::Passport => "passport",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "" | "cn_resident_id" => Ok(IdType::CnResidentId),
            "passport" => Ok(IdType::Passport),
            _ => Err(Invalid::new(
                "id_type",
                "invalid_id_type",
                "id_type must be cn_resident_id or passport",
            )),
        }
    }
}

/// An identity document number that has passed its format check. Only its keyed hash and
/// last four characters are ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IdDocument {
    kind: IdType,
    number: String,
    birth_year: Option<i32>,
}

// The number is personal data: it must never reach a log line through `{:?}`.
impl std::fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdDocument({}, …{})", self.kind.as_str(), self.last4())
    }
}

const CN_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CN_CHECK: &[u8; 11] = b"10X98765432";

/// The ISO 7064 MOD 11-2 check character of the first 17 digits of a PRC resident ID.
pub fn cn_check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(CN_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CN_CHECK[(sum % 11) as usize] as char)
}

impl IdDocument {
    pub fn parse(kind: IdType, raw: &str) -> Result<Self, Invalid> {
        let number: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        match kind {
            IdType::CnResidentId => Self::parse_cn(number),
            IdType::Passport => {
                if !(5..=20).contains(&number.len())
                    || !number.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(Invalid::new(
                        "id_number",
                        "invalid_passport_number",
                        "a passport number has 5 to 20 letters or digits",
                    ));
                }
                Ok(Self {
                    kind,
                    number,
                    birth_year: None,
                })
            }
        }
    }

    fn parse_cn(number: String) -> Result<Self, Invalid> {
        let bytes = number.as_bytes();
        if bytes.len() != 18 {
            return Err(Invalid::new(
                "id_number",
                "invalid_id_number",
                "a resident ID number has 18 characters",
            ));
        }
        let Some(expected) = cn_check_char(&bytes[..17]) else {
            return Err(Invalid::new(
                "id_number",
                "invalid_id_number",
                "the first 17 characters of a resident ID number are digits",
            ));
        };
        if bytes[17] as char != expected {
            return Err(Invalid::new(
                "id_number",
                "id_number_checksum",
                "the check character of the ID number is wrong (ISO 7064 MOD 11-2): please re-read the card",
            ));
        }
        let digits = |r: std::ops::Range<usize>| number[r].parse::<u32>().ok();
        let birth = match (digits(6..10), digits(10..12), digits(12..14)) {
            (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d),
            _ => None,
        };
        let Some(birth) = birth.filter(|b| b.year() >= 1880) else {
            return Err(Invalid::new(
                "id_number",
                "invalid_id_number",
                "the birth date inside the ID number is not a real date",
            ));
        };
        Ok(Self {
            kind: IdType::CnResidentId,
            number,
            birth_year: Some(birth.year()),
        })
    }

    pub fn kind(&self) -> IdType {
        self.kind
    }

    /// The last four characters, shown to staff for the check against the ID card.
    pub fn last4(&self) -> &str {
        &self.number[self.number.len() - 4..]
    }

    /// The birth year a PRC ID number encodes.
    pub fn birth_year(&self) -> Option<i32> {
        self.birth_year
    }

    /// The bytes the keyed hash is taken over: type and number, so that a passport number
    /// can never collide with a resident ID number.
    pub fn hash_input(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB 11643's published example number.
    const SAMPLE: &str = "11010519491231002X";

    #[test]
    fn accepts_a_number_with_the_right_check_character() {
        let id = IdDocument::parse(IdType::CnResidentId, SAMPLE).unwrap();
        assert_eq!(id.last4(), "002X");
        assert_eq!(id.birth_year(), Some(1949));
    }

    #[test]
    fn lowercase_x_and_spaces_are_normalised() {
        let id = IdDocument::parse(IdType::CnResidentId, "110105 19491231 002x").unwrap();
        assert_eq!(id.hash_input(), format!("cn_resident_id:{SAMPLE}"));
    }

    #[test]
    fn every_single_digit_change_is_caught() {
        for pos in 0..17 {
            let mut b = SAMPLE.as_bytes().to_vec();
            b[pos] = if b[pos] == b'9' { b'0' } else { b[pos] + 1 };
            let s = String::from_utf8(b).unwrap();
            let err = IdDocument::parse(IdType::CnResidentId, &s).unwrap_err();
            assert!(
                err.code == "id_number_checksum" || err.code == "invalid_id_number",
                "{pos}: {err:?}"
            );
        }
    }

    #[test]
    fn wrong_length_and_letters_are_refused() {
        for bad in [
            "",
            "1101051949123100",
            "11010519491231002XX",
            "A1010519491231002X",
        ] {
            assert!(
                IdDocument::parse(IdType::CnResidentId, bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn impossible_birth_date_is_refused_even_with_a_valid_check_character() {
        let first17 = b"11010519491331002";
        let check = cn_check_char(first17).unwrap();
        let s = format!("{}{check}", std::str::from_utf8(first17).unwrap());
        assert_eq!(
            IdDocument::parse(IdType::CnResidentId, &s)
                .unwrap_err()
                .code,
            "invalid_id_number"
        );
    }

    #[test]
    fn passport_numbers() {
        assert!(IdDocument::parse(IdType::Passport, "E12345678").is_ok());
        assert!(IdDocument::parse(IdType::Passport, "E12").is_err());
        assert!(IdDocument::parse(IdType::Passport, "E1234-5678").is_err());
        assert!(IdDocument::parse(IdType::Passport, &"A".repeat(21)).is_err());
    }

    #[test]
    fn debug_output_hides_the_number() {
        let id = IdDocument::parse(IdType::CnResidentId, SAMPLE).unwrap();
        assert!(!format!("{id:?}").contains("19491231"));
    }
}
