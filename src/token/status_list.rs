//! The signed status list (DESIGN.md, "Status list"): two bits per status index holding a
//! resident's *current* colour (0 green, 1 yellow, 2 red, 3 revoked), zlib-compressed, in a
//! COSE_Sign1 whose payload is the CBOR map `{epoch, issued_at, expires_at, count, bits}`.
//! It lets a verifier with no network see that yesterday's green screenshot belongs to
//! someone who is red now. Pure: no IO, no clock.
//!
//! Slot `i` is in byte `i / 4`, bits `2 * (i % 4)` and up (the low bits first), as in the IETF
//! Token Status List draft.

use super::{Kid, KnownKey, TokenError};
use crate::domain::{Colour, DistrictId};
use coset::CborSerializable;
use coset::cbor::value::Value;
use ed25519_dalek::SigningKey;
use std::io::{Read, Write};

/// No list is shorter (herd privacy: one slot in 131,072 says little about who holds it).
pub const MIN_SLOTS: u32 = 131_072;
/// The most slots a list may declare (64 M residents, 16 MB uncompressed), so a forged list
/// cannot make a verifier inflate without bound.
pub const MAX_SLOTS: u32 = 1 << 26;

/// What a slot says about the code holder now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Colour(Colour),
    /// No longer a resident (deleted, merged): no code of theirs is good.
    Revoked,
}

impl Slot {
    fn bits(self) -> u8 {
        match self {
            Slot::Colour(c) => c.code(),
            Slot::Revoked => 3,
        }
    }

    fn from_bits(b: u8) -> Slot {
        Colour::from_code(i64::from(b)).map_or(Slot::Revoked, Slot::Colour)
    }
}

/// Two bits per slot; unset slots are green (an unassigned index matches no code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusBits {
    count: u32,
    bytes: Vec<u8>,
}

impl StatusBits {
    /// A list of at least `count` slots (never fewer than [`MIN_SLOTS`]), all green.
    pub fn new(count: u32) -> Self {
        Self::filled(count, Slot::Colour(Colour::Green))
    }

    /// A list whose every slot says `fill`. The slots no resident holds match no code, so they
    /// may say anything: filled with the commonest colour they cost almost nothing compressed
    /// (a district all red compresses as well as one all green), and say nothing about which
    /// slots are taken.
    pub fn filled(count: u32, fill: Slot) -> Self {
        let count = count.clamp(MIN_SLOTS, MAX_SLOTS);
        let b = fill.bits();
        StatusBits {
            count,
            bytes: vec![b | b << 2 | b << 4 | b << 6; count.div_ceil(4) as usize],
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Sets a slot; `false` if the index is beyond the list.
    pub fn set(&mut self, index: u32, slot: Slot) -> bool {
        let Some(byte) = self.bytes.get_mut((index / 4) as usize) else {
            return false;
        };
        if index >= self.count {
            return false;
        }
        let shift = 2 * (index % 4);
        *byte = (*byte & !(0b11 << shift)) | (slot.bits() << shift);
        true
    }

    pub fn get(&self, index: u32) -> Option<Slot> {
        if index >= self.count {
            return None;
        }
        let byte = self.bytes.get((index / 4) as usize)?;
        Some(Slot::from_bits((byte >> (2 * (index % 4))) & 0b11))
    }
}

/// A list with its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    /// Whose slots: codes with this `district` claim (`None`: codes without one).
    pub district: Option<DistrictId>,
    /// Increases with every rebuild (per district).
    pub epoch: u64,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The rule set the colours were computed with.
    pub rules_version: u32,
    pub bits: StatusBits,
}

/// Why a list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    #[error("not a status list")]
    Malformed,
    #[error("the signature does not verify: {0}")]
    Signature(&'static str),
    #[error("the list has expired")]
    Expired,
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(bytes);
    z.finish().unwrap_or_default()
}

/// Inflates at most `expected` bytes and insists on exactly that many.
fn unzlib(compressed: &[u8], expected: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(expected);
    flate2::read::ZlibDecoder::new(compressed)
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() == expected).then_some(out)
}

/// Signs the list into COSE_Sign1 bytes (tagged).
pub fn sign(list: &StatusList, key: &SigningKey) -> Vec<u8> {
    let mut fields = vec![
        (Value::Text("epoch".into()), Value::from(list.epoch)),
        (Value::Text("issued_at".into()), Value::from(list.issued_at)),
        (
            Value::Text("expires_at".into()),
            Value::from(list.expires_at),
        ),
        (
            Value::Text("rules_version".into()),
            Value::from(list.rules_version),
        ),
        (Value::Text("count".into()), Value::from(list.bits.count)),
        (
            Value::Text("bits".into()),
            Value::Bytes(zlib(&list.bits.bytes)),
        ),
    ];
    // Absent for the default list: a list any verifier of the default list already reads.
    if let Some(d) = list.district {
        fields.push((Value::Text("district".into()), Value::from(d.get())));
    }
    super::sign1(Value::Map(fields).to_vec().unwrap_or_default(), key)
}

/// Checks a signed list against the known keys and `now`, and decodes it.
pub fn verify<'k>(
    bytes: &[u8],
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
    now: i64,
) -> Result<StatusList, StatusListError> {
    let list = verify_signature(bytes, keys)?;
    if list.expires_at <= now {
        return Err(StatusListError::Expired);
    }
    Ok(list)
}

/// Checks the signature and decodes, whatever the time (the caller judges the age).
pub fn verify_signature<'k>(
    bytes: &[u8],
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
) -> Result<StatusList, StatusListError> {
    let payload = super::verify_sign1(bytes, keys).map_err(|e| match e {
        TokenError::Malformed => StatusListError::Malformed,
        other => StatusListError::Signature(other.code()),
    })?;
    decode_payload(&payload)
}

fn decode_payload(payload: &[u8]) -> Result<StatusList, StatusListError> {
    let Value::Map(entries) = Value::from_slice(payload).map_err(|_| StatusListError::Malformed)?
    else {
        return Err(StatusListError::Malformed);
    };
    let field = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
            .map(|(_, v)| v)
            .ok_or(StatusListError::Malformed)
    };
    let int = |name: &str| -> Result<i128, StatusListError> {
        field(name)?
            .as_integer()
            .map(i128::from)
            .ok_or(StatusListError::Malformed)
    };
    let epoch = u64::try_from(int("epoch")?).map_err(|_| StatusListError::Malformed)?;
    let issued_at = i64::try_from(int("issued_at")?).map_err(|_| StatusListError::Malformed)?;
    let expires_at = i64::try_from(int("expires_at")?).map_err(|_| StatusListError::Malformed)?;
    let rules_version =
        u32::try_from(int("rules_version")?).map_err(|_| StatusListError::Malformed)?;
    let count = u32::try_from(int("count")?).map_err(|_| StatusListError::Malformed)?;
    if !(MIN_SLOTS..=MAX_SLOTS).contains(&count) {
        return Err(StatusListError::Malformed);
    }
    let district = match field("district") {
        Err(_) => None,
        Ok(_) => Some(
            i64::try_from(int("district")?)
                .ok()
                .and_then(DistrictId::new)
                .ok_or(StatusListError::Malformed)?,
        ),
    };
    let Value::Bytes(compressed) = field("bits")? else {
        return Err(StatusListError::Malformed);
    };
    let bytes = unzlib(compressed, count.div_ceil(4) as usize).ok_or(StatusListError::Malformed)?;
    Ok(StatusList {
        district,
        epoch,
        issued_at,
        expires_at,
        rules_version,
        bits: StatusBits { count, bytes },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn known(k: &SigningKey, revoked: bool) -> KnownKey {
        KnownKey {
            key: k.verifying_key(),
            revoked,
        }
    }

    fn list_with(slots: &[(u32, Slot)]) -> StatusList {
        let mut bits = StatusBits::new(10);
        for (i, s) in slots {
            assert!(bits.set(*i, *s));
        }
        StatusList {
            district: None,
            epoch: 3,
            issued_at: 1_000,
            expires_at: 2_000,
            rules_version: 1,
            bits,
        }
    }

    #[test]
    fn a_list_never_has_fewer_than_the_minimum_slots() {
        let b = StatusBits::new(5);
        assert_eq!(b.count(), MIN_SLOTS);
        assert_eq!(b.get(MIN_SLOTS - 1), Some(Slot::Colour(Colour::Green)));
        assert_eq!(b.get(MIN_SLOTS), None);
    }

    #[test]
    fn slots_keep_their_colour_and_do_not_touch_their_neighbours() {
        let mut b = StatusBits::new(0);
        assert!(b.set(4, Slot::Colour(Colour::Red)));
        assert!(b.set(5, Slot::Revoked));
        assert!(b.set(6, Slot::Colour(Colour::Yellow)));
        assert!(b.set(5, Slot::Colour(Colour::Green)));
        assert_eq!(b.get(3), Some(Slot::Colour(Colour::Green)));
        assert_eq!(b.get(4), Some(Slot::Colour(Colour::Red)));
        assert_eq!(b.get(5), Some(Slot::Colour(Colour::Green)));
        assert_eq!(b.get(6), Some(Slot::Colour(Colour::Yellow)));
        assert_eq!(b.get(7), Some(Slot::Colour(Colour::Green)));
        assert!(!b.set(MIN_SLOTS, Slot::Revoked));
    }

    #[test]
    fn a_signed_list_round_trips() {
        let k = key();
        let list = list_with(&[(0, Slot::Colour(Colour::Red)), (131_071, Slot::Revoked)]);
        let signed = sign(&list, &k);
        let kk = known(&k, false);
        let back = verify(&signed, |_| vec![&kk], 1_500).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.bits.get(0), Some(Slot::Colour(Colour::Red)));
        assert_eq!(back.bits.get(131_071), Some(Slot::Revoked));
    }

    #[test]
    fn a_tampered_expired_or_foreign_list_is_refused() {
        let k = key();
        let kk = known(&k, false);
        let signed = sign(&list_with(&[(9, Slot::Colour(Colour::Red))]), &k);
        assert_eq!(
            verify(&signed, |_| vec![&kk], 2_000),
            Err(StatusListError::Expired)
        );
        let mut flipped = signed.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        assert!(verify(&flipped, |_| vec![&kk], 1_500).is_err());
        let other = known(&SigningKey::from_bytes(&[8u8; 32]), false);
        assert_eq!(
            verify(&signed, |_| vec![&other], 1_500),
            Err(StatusListError::Signature("bad_signature"))
        );
        let revoked = known(&k, true);
        assert_eq!(
            verify(&signed, |_| vec![&revoked], 1_500),
            Err(StatusListError::Signature("revoked_key"))
        );
        assert_eq!(
            verify(&signed, |_| vec![], 1_500),
            Err(StatusListError::Signature("unknown_key"))
        );
        assert_eq!(
            verify(b"not cbor at all", |_| vec![&kk], 1_500),
            Err(StatusListError::Malformed)
        );
    }

    #[test]
    fn a_list_that_inflates_beyond_its_count_is_refused() {
        // Signed with a real key but declaring fewer slots than its bits hold.
        let k = key();
        let kk = known(&k, false);
        let bomb = zlib(&vec![0u8; 64 << 20]);
        let payload = Value::Map(vec![
            (Value::Text("epoch".into()), Value::from(1)),
            (Value::Text("issued_at".into()), Value::from(1_000)),
            (Value::Text("expires_at".into()), Value::from(2_000)),
            (Value::Text("rules_version".into()), Value::from(1)),
            (Value::Text("count".into()), Value::from(MIN_SLOTS)),
            (Value::Text("bits".into()), Value::Bytes(bomb)),
        ]);
        let sign1 = super::super::sign1(payload.to_vec().unwrap(), &k);
        assert_eq!(
            verify(&sign1, |_| vec![&kk], 1_500),
            Err(StatusListError::Malformed)
        );
    }

    #[test]
    fn a_district_list_names_its_district_and_the_default_list_names_none() {
        let k = key();
        let kk = known(&k, false);
        let mut list = list_with(&[(5, Slot::Colour(Colour::Red))]);
        let default_list = sign(&list, &k);
        list.district = DistrictId::new(7);
        let district_list = sign(&list, &k);
        assert_eq!(
            verify(&default_list, |_| vec![&kk], 1_500)
                .unwrap()
                .district,
            None
        );
        assert_eq!(
            verify(&district_list, |_| vec![&kk], 1_500)
                .unwrap()
                .district,
            DistrictId::new(7)
        );
        assert_ne!(default_list.len(), district_list.len());
    }

    #[test]
    fn a_filled_list_says_the_fill_except_where_set() {
        let mut b = StatusBits::filled(10, Slot::Colour(Colour::Red));
        assert!(b.set(9, Slot::Colour(Colour::Green)));
        assert_eq!(b.get(8), Some(Slot::Colour(Colour::Red)));
        assert_eq!(b.get(9), Some(Slot::Colour(Colour::Green)));
        assert_eq!(b.get(10), Some(Slot::Colour(Colour::Red)));
        assert_eq!(b.get(MIN_SLOTS), None);
    }

    /// Issue 22: a shelter's bundle for a district of 2,000,000 residents is at most 150 KB.
    /// Their slots are spread at random over a list twice their number (the default sizing),
    /// 5 % of them red (100,000 people ordered out); a district all red but 5 % costs the
    /// same, because the free slots take the commonest colour. The bundle's other parts (keys,
    /// endorsements) are under 1 KB; the API test measures the bundle itself.
    #[test]
    fn a_district_of_two_million_fits_a_150_kb_bundle() {
        for red_share in [0.05, 0.95] {
            let mut rng = rand::rngs::StdRng::seed_from_u64(2);
            let space = crate::domain::ids::district_space_for(2_000_000);
            let fill = if red_share > 0.5 {
                Colour::Red
            } else {
                Colour::Green
            };
            let mut bits = StatusBits::filled(space, Slot::Colour(fill));
            let mut taken = std::collections::HashSet::new();
            while taken.len() < 2_000_000 {
                let i = rng.random_range(0..space);
                if taken.insert(i) {
                    let c = if rng.random_bool(red_share) {
                        Colour::Red
                    } else {
                        Colour::Green
                    };
                    bits.set(i, Slot::Colour(c));
                }
            }
            let list = StatusList {
                district: DistrictId::new(1),
                epoch: 1,
                issued_at: 0,
                expires_at: 10,
                rules_version: 1,
                bits,
            };
            let signed = sign(&list, &key());
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&signed);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(b64.as_bytes()).unwrap();
            let gzipped = gz.finish().unwrap().len();
            eprintln!(
                "2 M residents, {red_share} red: list {} bytes, as served gzip {gzipped}",
                signed.len()
            );
            assert!(gzipped <= 149 * 1024, "{gzipped} bytes");
        }
    }

    /// DESIGN.md: 1,000,000 residents with 10 % red fit in 100 KB.
    #[test]
    fn a_million_residents_with_a_tenth_red_fit_in_100_kb() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut bits = StatusBits::new(1_000_000);
        for i in 0..1_000_000 {
            if rng.random_bool(0.1) {
                bits.set(i, Slot::Colour(Colour::Red));
            }
        }
        let list = StatusList {
            district: None,
            epoch: 1,
            issued_at: 0,
            expires_at: 10,
            rules_version: 1,
            bits,
        };
        let signed = sign(&list, &key());
        eprintln!("signed status list: {} bytes", signed.len());
        assert!(signed.len() <= 100 * 1024, "{} bytes", signed.len());
    }
}
