//! The signed status list (DESIGN.md, "Status list"): two bits per status index holding a
//! resident's *current* colour (0 green, 1 yellow, 2 red, 3 revoked), zlib-compressed, in a
//! COSE_Sign1 whose payload is the CBOR map `{epoch, issued_at, expires_at, count, bits}`.
//! It lets a verifier with no network see that yesterday's green screenshot belongs to
//! someone who is red now. Pure: no IO, no clock.
//!
//! Slot `i` is in byte `i / 4`, bits `2 * (i % 4)` and up (the low bits first), as in the IETF
//! Token Status List draft.

use super::{Kid, KnownKey, TokenError};
use crate::domain::Colour;
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
        let count = count.clamp(MIN_SLOTS, MAX_SLOTS);
        StatusBits {
            count,
            bytes: vec![0; count.div_ceil(4) as usize],
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
    /// Increases with every rebuild.
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
    let payload = Value::Map(vec![
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
    ]);
    super::sign1(payload.to_vec().unwrap_or_default(), key)
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
    let Value::Bytes(compressed) = field("bits")? else {
        return Err(StatusListError::Malformed);
    };
    let bytes = unzlib(compressed, count.div_ceil(4) as usize).ok_or(StatusListError::Malformed)?;
    Ok(StatusList {
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
