//! The audit chain's head, signed with the service's key: how far the chain went and the hash
//! of its last entry, at a time. A copy kept outside the database (a shelter tablet, an
//! auditor's file) later proves that the entries up to `seq` were not rewritten, even by
//! someone who can write to the database and recompute every hash, since they cannot sign.

use super::{Kid, KnownKey, TokenError};
use coset::CborSerializable;
use coset::cbor::value::Value;
use ed25519_dalek::SigningKey;

/// What the payload says it is, so that no other signed object passes for a head.
const TYPE: &str = "safecode/audit-head";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Entries in the chain (the seq of the last one).
    pub seq: u64,
    /// The chain hash of entry `seq`.
    pub hash: [u8; 32],
    /// Unix seconds.
    pub signed_at: i64,
}

pub fn sign(a: &Anchor, key: &SigningKey) -> Vec<u8> {
    let payload = Value::Map(vec![
        (Value::Text("typ".into()), Value::Text(TYPE.into())),
        (Value::Text("seq".into()), Value::from(a.seq)),
        (Value::Text("hash".into()), Value::Bytes(a.hash.to_vec())),
        (Value::Text("signed_at".into()), Value::from(a.signed_at)),
    ]);
    super::sign1(payload.to_vec().unwrap_or_default(), key)
}

pub fn verify<'k>(
    bytes: &[u8],
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
) -> Result<Anchor, TokenError> {
    let entries = super::typed_map(&super::verify_sign1(bytes, keys)?, TYPE)?;
    let field = |name: &str| super::map_field(&entries, name).ok_or(TokenError::Malformed);
    let int = |name: &str| -> Result<i128, TokenError> {
        field(name)?
            .as_integer()
            .map(i128::from)
            .ok_or(TokenError::Malformed)
    };
    let hash: [u8; 32] = field("hash")?
        .as_bytes()
        .and_then(|b| b.clone().try_into().ok())
        .ok_or(TokenError::Malformed)?;
    Ok(Anchor {
        seq: u64::try_from(int("seq")?).map_err(|_| TokenError::Malformed)?,
        hash,
        signed_at: i64::try_from(int("signed_at")?).map_err(|_| TokenError::Malformed)?,
    })
}

/// The key id a signed head names (whether or not it verifies).
pub fn kid(bytes: &[u8]) -> Option<Kid> {
    use coset::TaggedCborSerializable;
    let sign1 = coset::CoseSign1::from_tagged_slice(bytes).ok()?;
    <[u8; 8]>::try_from(sign1.protected.header.key_id)
        .ok()
        .map(Kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_verifies_with_its_key_and_not_with_another_or_altered() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let a = Anchor {
            seq: 42,
            hash: [9; 32],
            signed_at: 1_800_000_000,
        };
        let bytes = sign(&a, &key);
        let known = [KnownKey {
            key: key.verifying_key(),
            revoked: false,
        }];
        let by_kid = |k: &Kid| known.iter().filter(|x| Kid::of(&x.key) == *k).collect();
        assert_eq!(verify(&bytes, by_kid), Ok(a));
        let forged = sign(&a, &other);
        assert_eq!(verify(&forged, by_kid), Err(TokenError::UnknownKey));
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 70] ^= 1; // inside the payload's hash
        assert!(verify(&flipped, by_kid).is_err());
    }
}
