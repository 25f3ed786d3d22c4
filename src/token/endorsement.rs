//! One signing key vouching for another: how a verifier that trusts an old key comes to trust
//! the key a rotation brought (docs/offline.md, "Keys a verifier trusts"). A COSE_Sign1 by the
//! old key over `{typ: "safecode/key", x: <the new key's 32 bytes>}`.

use super::{Kid, KnownKey, TokenError};
use coset::CborSerializable;
use coset::cbor::value::Value;
use ed25519_dalek::{SigningKey, VerifyingKey};

const TYPE: &str = "safecode/key";

pub fn sign(signer: &SigningKey, endorsed: &VerifyingKey) -> Vec<u8> {
    let payload = Value::Map(vec![
        (Value::Text("typ".into()), Value::Text(TYPE.into())),
        (
            Value::Text("x".into()),
            Value::Bytes(endorsed.to_bytes().to_vec()),
        ),
    ]);
    super::sign1(payload.to_vec().unwrap_or_default(), signer)
}

/// The key an endorsement vouches for, if one of `keys` signed it.
pub fn verify<'k>(
    bytes: &[u8],
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
) -> Result<VerifyingKey, TokenError> {
    let entries = super::typed_map(&super::verify_sign1(bytes, keys)?, TYPE)?;
    let x: [u8; 32] = super::map_field(&entries, "x")
        .and_then(|v| v.as_bytes())
        .and_then(|b| b.clone().try_into().ok())
        .ok_or(TokenError::Malformed)?;
    VerifyingKey::from_bytes(&x).map_err(|_| TokenError::Malformed)
}
