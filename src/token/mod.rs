//! The SC1 signed token: `SC1:` + base45(COSE_Sign1 over a CWT claims set), Ed25519.
//! Pure: no IO, no database, no clock (the caller passes `now`).
//!
//! Verification follows DESIGN.md's order: prefix → base45 (strict, size-capped) → CBOR
//! (size-capped, so depth is bounded too) → COSE_Sign1 (tag 18 optional) → alg exactly -8 →
//! kid from the protected header → every known key with that kid, revoked ones refused →
//! signature over the RFC 9052 Sig_structure → `iat` not in the future beyond the skew →
//! `exp` not passed. Each failure has its own error; nothing here panics, whatever the input.

pub mod anchor;
pub mod endorsement;
pub mod offline;
pub mod status_list;

use crate::domain::Colour;
use coset::cbor::value::Value;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, cwt, iana,
};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "SC1:";
/// Longest token text accepted: real tokens stay under ~320 characters.
pub const MAX_TEXT: usize = 1024;
/// Allowed clock difference between issuer and verifier for `iat`.
pub const SKEW_SECONDS: i64 = 300;

const CLAIM_COLOUR: i64 = -65537;
const CLAIM_STATUS_INDEX: i64 = -65538;
const CLAIM_RULES_VERSION: i64 = -65539;
const CLAIM_DISPLAY: i64 = -65540;
/// Optional (docs/sc1.md): the district whose status list holds the slot. Absent: the
/// default list, as for every code printed before districts.
const CLAIM_DISTRICT: i64 = -65541;

/// A key id: the first 8 bytes of SHA-256 of the raw 32-byte public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; 8]);

impl Kid {
    pub fn of(key: &VerifyingKey) -> Self {
        let h = Sha256::digest(key.as_bytes());
        let mut k = [0u8; 8];
        k.copy_from_slice(&h[..8]);
        Kid(k)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        hex::decode(s).ok()?.try_into().ok().map(Kid)
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What a code says about its holder. No personal data beyond the masked display text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub issuer: String,
    /// The resident's public id.
    pub subject: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub token_id: [u8; 8],
    pub colour: Colour,
    pub status_index: crate::domain::StatusIndex,
    /// The list `status_index` is a slot of: `None` is the default list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<crate::domain::DistrictId>,
    pub rules_version: u32,
    /// Masked name and last 4 ID characters, for the check against the ID card.
    pub display: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum TokenError {
    #[error("the token is not a well-formed SC1 token")]
    Malformed,
    #[error("the token is not signed with Ed25519")]
    UnsupportedAlg,
    #[error("the token's key is not known")]
    UnknownKey,
    #[error("the token's key has been revoked")]
    RevokedKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future")]
    NotYetValid,
}

impl TokenError {
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnsupportedAlg => "unsupported_alg",
            TokenError::UnknownKey => "unknown_key",
            TokenError::RevokedKey => "revoked_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
        }
    }
}

/// A key a verifier knows, with whether it may still be trusted.
#[derive(Debug, Clone)]
pub struct KnownKey {
    pub key: VerifyingKey,
    pub revoked: bool,
}

/// The known keys whose id is `kid` (several may share one), for [`verify`] and its kin.
pub fn keys_with<'k>(keys: &'k [KnownKey], kid: &Kid) -> Vec<&'k KnownKey> {
    keys.iter().filter(|k| Kid::of(&k.key) == *kid).collect()
}

/// The keys of a JWKS document (as `GET /v1/keys` serves it), for verifying offline.
pub fn known_from_jwks(jwks: &serde_json::Value) -> Option<Vec<KnownKey>> {
    use base64::Engine;
    let mut out = Vec::new();
    for k in jwks.get("keys")?.as_array()? {
        if k.get("kty")?.as_str()? != "OKP" || k.get("crv")?.as_str()? != "Ed25519" {
            continue;
        }
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(k.get("x")?.as_str()?)
            .ok()?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().ok()?).ok()?;
        let revoked = k.get("status").and_then(|s| s.as_str()) == Some("revoked");
        out.push(KnownKey { key, revoked });
    }
    Some(out)
}

/// Signs any payload into a tagged COSE_Sign1 with EdDSA and the key's kid: the envelope of
/// the status list and of the audit chain's signed heads.
pub fn sign1(payload: Vec<u8>, key: &SigningKey) -> Vec<u8> {
    use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
    use ed25519_dalek::Signer;
    let kid = Kid::of(&key.verifying_key());
    CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .key_id(kid.0.to_vec())
                .build(),
        )
        .payload(payload)
        .create_signature(&[], |tbs| key.sign(tbs).to_bytes().to_vec())
        .build()
        .to_tagged_vec()
        .unwrap_or_default()
}

/// Checks a COSE_Sign1 made by [`sign1`] against the known keys and returns its payload.
pub fn verify_sign1<'k>(
    bytes: &[u8],
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
) -> Result<Vec<u8>, TokenError> {
    use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
    use ed25519_dalek::{Signature, Verifier};
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|_| TokenError::Malformed)?;
    let kid = eddsa_kid(&sign1)?;
    let candidates = keys(&kid);
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    let signature =
        Signature::from_slice(&sign1.signature).map_err(|_| TokenError::BadSignature)?;
    let tbs = sign1.tbs_data(&[]);
    match candidates
        .iter()
        .find(|k| k.key.verify(&tbs, &signature).is_ok())
    {
        None => Err(TokenError::BadSignature),
        Some(k) if k.revoked => Err(TokenError::RevokedKey),
        Some(_) => sign1.payload.ok_or(TokenError::Malformed),
    }
}

/// A signed payload that is a CBOR map with a text `typ`: its entries, when `typ` is `expected`
/// (so that no other signed object passes for this one).
pub(crate) fn typed_map(
    payload: &[u8],
    expected: &str,
) -> Result<Vec<(coset::cbor::value::Value, coset::cbor::value::Value)>, TokenError> {
    use coset::CborSerializable;
    use coset::cbor::value::Value;
    let Value::Map(entries) = Value::from_slice(payload).map_err(|_| TokenError::Malformed)? else {
        return Err(TokenError::Malformed);
    };
    match map_field(&entries, "typ") {
        Some(Value::Text(t)) if t == expected => Ok(entries),
        _ => Err(TokenError::Malformed),
    }
}

/// A field of a CBOR map by its text key.
pub(crate) fn map_field<'a>(
    entries: &'a [(coset::cbor::value::Value, coset::cbor::value::Value)],
    name: &str,
) -> Option<&'a coset::cbor::value::Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, coset::cbor::value::Value::Text(t) if t == name))
        .map(|(_, v)| v)
}

/// Signs claims into SC1 text.
pub fn encode(claims: &Claims, key: &SigningKey) -> String {
    let kid = Kid::of(&key.verifying_key());
    let payload = cwt::ClaimsSetBuilder::new()
        .issuer(claims.issuer.clone())
        .subject(claims.subject.clone())
        .issued_at(cwt::Timestamp::WholeSeconds(claims.issued_at))
        .expiration_time(cwt::Timestamp::WholeSeconds(claims.expires_at))
        .cwt_id(claims.token_id.to_vec())
        .private_claim(CLAIM_COLOUR, Value::from(claims.colour.code()))
        .private_claim(CLAIM_STATUS_INDEX, Value::from(claims.status_index.0))
        .private_claim(CLAIM_RULES_VERSION, Value::from(claims.rules_version))
        .private_claim(CLAIM_DISPLAY, Value::Text(claims.display.clone()));
    // Absent rather than zero: a code of the default list is byte for byte what it was
    // before districts.
    let payload = match claims.district {
        Some(d) => payload.private_claim(CLAIM_DISTRICT, Value::from(d.get())),
        None => payload,
    }
    .build()
    .to_vec()
    .unwrap_or_default();
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(kid.0.to_vec())
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(&[], |tbs| key.sign(tbs).to_bytes().to_vec())
        .build();
    format!(
        "{PREFIX}{}",
        base45::encode(sign1.to_tagged_vec().unwrap_or_default())
    )
}

/// The key id of a COSE_Sign1 signed with EdDSA (the only algorithm SC1 allows): anything
/// else is `UnsupportedAlg`, a key id of another length `Malformed`.
fn eddsa_kid(sign1: &coset::CoseSign1) -> Result<Kid, TokenError> {
    let alg_ok = matches!(
        sign1.protected.header.alg,
        Some(coset::RegisteredLabelWithPrivate::Assigned(
            coset::iana::Algorithm::EdDSA
        ))
    );
    if !alg_ok {
        return Err(TokenError::UnsupportedAlg);
    }
    let kid: [u8; 8] = sign1
        .protected
        .header
        .key_id
        .clone()
        .try_into()
        .map_err(|_| TokenError::Malformed)?;
    Ok(Kid(kid))
}

/// Decodes the text into a COSE_Sign1 without checking anything cryptographic.
fn decode_sign1(text: &str) -> Result<CoseSign1, TokenError> {
    if text.len() > MAX_TEXT {
        return Err(TokenError::Malformed);
    }
    let body = text.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let bytes = base45::decode(body).map_err(|_| TokenError::Malformed)?;
    // Tag 18 is optional: try tagged first, then untagged.
    let (sign1, tagged) = match CoseSign1::from_tagged_slice(&bytes) {
        Ok(s) => (s, true),
        Err(_) => (
            CoseSign1::from_slice(&bytes).map_err(|_| TokenError::Malformed)?,
            false,
        ),
    };
    // Only the canonical encoding: CBOR can spell the same array several ways (longer
    // length prefixes, a two-byte tag), and the outer array is not signed, so without this
    // many different strings would verify as one code.
    let again = if tagged {
        sign1.clone().to_tagged_vec()
    } else {
        sign1.clone().to_vec()
    }
    .map_err(|_| TokenError::Malformed)?;
    if again != bytes {
        return Err(TokenError::Malformed);
    }
    Ok(sign1)
}

fn claims_of(payload: &[u8]) -> Result<Claims, TokenError> {
    let set = cwt::ClaimsSet::from_slice(payload).map_err(|_| TokenError::Malformed)?;
    let ts = |t: Option<cwt::Timestamp>| match t {
        Some(cwt::Timestamp::WholeSeconds(s)) => Ok(s),
        _ => Err(TokenError::Malformed),
    };
    let private = |id: i64| {
        set.rest
            .iter()
            .find(|(name, _)| *name == cwt::ClaimName::PrivateUse(id))
            .map(|(_, v)| v.clone())
            .ok_or(TokenError::Malformed)
    };
    let uint = |v: Value| -> Result<u32, TokenError> {
        v.as_integer()
            .and_then(|i| u32::try_from(i).ok())
            .ok_or(TokenError::Malformed)
    };
    let colour =
        Colour::from_code(i64::from(uint(private(CLAIM_COLOUR)?)?)).ok_or(TokenError::Malformed)?;
    let token_id: [u8; 8] = set
        .cwt_id
        .clone()
        .and_then(|c| c.try_into().ok())
        .ok_or(TokenError::Malformed)?;
    Ok(Claims {
        issuer: set.issuer.clone().ok_or(TokenError::Malformed)?,
        subject: set.subject.clone().ok_or(TokenError::Malformed)?,
        issued_at: ts(set.issued_at.clone())?,
        expires_at: ts(set.expiration_time.clone())?,
        token_id,
        colour,
        status_index: crate::domain::StatusIndex(uint(private(CLAIM_STATUS_INDEX)?)?),
        district: match private(CLAIM_DISTRICT) {
            Err(_) => None,
            Ok(v) => Some(
                crate::domain::DistrictId::new(i64::from(uint(v)?)).ok_or(TokenError::Malformed)?,
            ),
        },
        rules_version: uint(private(CLAIM_RULES_VERSION)?)?,
        display: match private(CLAIM_DISPLAY)? {
            Value::Text(t) => t,
            _ => return Err(TokenError::Malformed),
        },
    })
}

/// A verified token: its claims and the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub claims: Claims,
    pub kid: Kid,
}

/// A code decoded as far as its signature: what is signed, the signature and the key id.
struct Unchecked {
    sign1: CoseSign1,
    kid: Kid,
    signature: Signature,
    tbs: Vec<u8>,
}

fn unchecked(text: &str) -> Result<Unchecked, TokenError> {
    // Exactly the text: a caller reading from a scanner or a file trims line ends first, so
    // no two different strings verify as the same code.
    let sign1 = decode_sign1(text)?;
    let kid = eddsa_kid(&sign1)?;
    let signature =
        Signature::from_slice(&sign1.signature).map_err(|_| TokenError::BadSignature)?;
    let tbs = sign1.tbs_data(&[]);
    Ok(Unchecked {
        sign1,
        kid,
        signature,
        tbs,
    })
}

/// The signature checked one key at a time: the first non-revoked key that verifies it.
fn check_signature(u: &Unchecked, candidates: &[&KnownKey]) -> Result<(), TokenError> {
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey);
    }
    let mut revoked_match = false;
    for k in candidates {
        if k.key.verify(&u.tbs, &u.signature).is_ok() {
            if !k.revoked {
                return Ok(());
            }
            revoked_match = true;
        }
    }
    Err(if revoked_match {
        TokenError::RevokedKey
    } else {
        TokenError::BadSignature
    })
}

/// The claims of a code whose signature verified, checked against the clock.
fn claims_at(u: Unchecked, now: i64) -> Result<Verified, TokenError> {
    let claims = claims_of(u.sign1.payload.as_deref().ok_or(TokenError::Malformed)?)?;
    if claims.issued_at > now + SKEW_SECONDS {
        return Err(TokenError::NotYetValid);
    }
    if claims.expires_at <= now {
        return Err(TokenError::Expired);
    }
    Ok(Verified { claims, kid: u.kid })
}

/// Verifies SC1 text. `keys` returns every known key with a kid (several may share one).
pub fn verify<'k>(
    text: &str,
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
    now: i64,
) -> Result<Verified, TokenError> {
    let u = unchecked(text)?;
    check_signature(&u, &keys(&u.kid))?;
    claims_at(u, now)
}

/// Verifies many SC1 texts at once, each answer exactly what [`verify`] gives for it.
///
/// The codes whose kid names exactly one key, not revoked, have their signatures checked
/// together by Ed25519 batch verification (one multiscalar multiplication instead of one
/// double-base multiplication each); when the batch fails, each is checked alone, so a bad
/// signature costs its batch a second pass, never a wrong answer. Batch verification checks
/// the cofactored equation where single verification checks the cofactorless one; the two
/// differ only for signatures built with the signing key's help (torsion added to `R` changes
/// `H(R‖A‖M)`), and every signature the server issues satisfies both.
pub fn verify_many<'k>(
    texts: &[&str],
    keys: impl Fn(&Kid) -> Vec<&'k KnownKey>,
    now: i64,
) -> Vec<Result<Verified, TokenError>> {
    let mut decoded: Vec<Result<(Unchecked, Vec<&'k KnownKey>), TokenError>> = texts
        .iter()
        .map(|t| {
            let u = unchecked(t)?;
            let candidates = keys(&u.kid);
            Ok((u, candidates))
        })
        .collect();
    // Indexes of the codes the batch can settle: one candidate key, not revoked.
    let batchable: Vec<usize> = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d {
            Ok((_, c)) if c.len() == 1 && !c[0].revoked => Some(i),
            _ => None,
        })
        .collect();
    let batch_ok = batchable.len() > 1 && {
        let mut messages = Vec::with_capacity(batchable.len());
        let mut signatures = Vec::with_capacity(batchable.len());
        let mut verifying = Vec::with_capacity(batchable.len());
        for &i in &batchable {
            if let Ok((u, c)) = &decoded[i] {
                messages.push(u.tbs.as_slice());
                signatures.push(u.signature);
                verifying.push(c[0].key);
            }
        }
        ed25519_dalek::verify_batch(&messages, &signatures, &verifying).is_ok()
    };
    let mut settled = vec![false; decoded.len()];
    if batch_ok {
        for &i in &batchable {
            settled[i] = true;
        }
    }
    decoded
        .drain(..)
        .zip(settled)
        .map(|(d, settled)| {
            let (u, candidates) = d?;
            if !settled {
                check_signature(&u, &candidates)?;
            }
            claims_at(u, now)
        })
        .collect()
}

#[cfg(test)]
mod tests;
