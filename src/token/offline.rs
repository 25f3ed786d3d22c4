//! Verifying a code with no network, from a verifier bundle (`GET /v1/verifier/bundle`,
//! documented in docs/offline.md) and the device's clock. Pure: the caller passes the bundle
//! text and the time.
//!
//! - The colour comes from the signed status list when the list is at least as new as the
//!   code (`issued_at ≥ iat`), else from the code.
//! - A bundle older than its maximum age gives **cannot verify**, never green.
//! - The time used is never earlier than the bundle's `issued_at`: a device clock rolled back
//!   cannot revive an expired code or a stale bundle.
//! - A bundle whose list does not verify with its keys, or whose plain fields disagree with
//!   the signed list, is refused as a whole.

use super::keys_with;
use super::status_list::{self, Slot, StatusList};
use super::{KnownKey, known_from_jwks};
use crate::domain::{Colour, DistrictId};
use serde::Deserialize;

pub const BUNDLE_FORMAT: &str = "safecode-bundle/1";

/// The bundle as served: everything a verifier needs, one JSON document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleDoc {
    format: String,
    server_time: i64,
    max_age_seconds: i64,
    rules_version: u32,
    status_list: StatusListDoc,
    /// Districts' lists (absent in bundles without any).
    #[serde(default)]
    district_lists: Vec<DistrictListDoc>,
    jwks: serde_json::Value,
    /// Standard base64 COSE_Sign1s: an older key vouching for a newer one (see [`Trust`]).
    #[serde(default)]
    endorsements: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusListDoc {
    epoch: u64,
    issued_at: i64,
    expires_at: i64,
    /// Standard base64 of the COSE_Sign1 bytes.
    cose: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DistrictListDoc {
    district: u8,
    epoch: u64,
    issued_at: i64,
    expires_at: i64,
    cose: String,
}

/// Why a bundle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a verifier bundle: {0}")]
    Malformed(&'static str),
    #[error("the bundle's status list does not verify: {0}")]
    Signature(&'static str),
    #[error("the bundle was altered: {0} differs from the signed list")]
    Tampered(&'static str),
    #[error(
        "the bundle is signed by a key this verifier does not trust (not pinned, and no trusted key vouches for it): refused"
    )]
    Untrusted,
}

/// The keys a verifier trusts: given out of band, or pinned on its first fetch from the server
/// it was pointed at. A new key is accepted only when a trusted one vouches for it (an
/// endorsement in the bundle, signed by the trusted key), so a bundle swapped wholesale, with
/// an attacker's key and a list that key signed, is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust(Vec<[u8; 32]>);

impl Trust {
    /// Pins a bundle's keys (those not revoked): trust on first contact.
    pub fn pin(bundle: &Bundle) -> Trust {
        Trust(
            bundle
                .keys
                .iter()
                .filter(|k| !k.revoked)
                .map(|k| k.key.to_bytes())
                .collect(),
        )
    }

    pub fn from_json(text: &str) -> Option<Trust> {
        use base64::Engine;
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let keys = v.get("keys")?.as_array()?;
        keys.iter()
            .map(|k| {
                let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(k.as_str()?)
                    .ok()?;
                b.try_into().ok()
            })
            .collect::<Option<Vec<[u8; 32]>>>()
            .map(Trust)
    }

    pub fn to_json(&self) -> String {
        use base64::Engine;
        let keys: Vec<String> = self
            .0
            .iter()
            .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k))
            .collect();
        serde_json::json!({ "format": "safecode-trust/1", "keys": keys }).to_string()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A bundle whose status lists verified with its own keys.
#[derive(Debug, Clone)]
pub struct Bundle {
    keys: Vec<KnownKey>,
    /// The default list (codes without a district).
    list: StatusList,
    /// The districts' lists it carries.
    districts: Vec<StatusList>,
}

impl Bundle {
    /// A bundle checked with its own keys (no keys pinned yet: trust on first contact).
    pub fn from_json(text: &str) -> Result<Bundle, BundleError> {
        Self::parse(text, None).map(|(b, _)| b)
    }

    /// A bundle checked against the keys a verifier trusts: its list must be signed by a
    /// trusted key or one a trusted key vouches for (transitively); codes are checked with
    /// those keys only. Returns the trust grown by the keys vouched for.
    pub fn from_json_pinned(text: &str, trust: &Trust) -> Result<(Bundle, Trust), BundleError> {
        Self::parse(text, Some(trust))
    }

    fn parse(text: &str, trust: Option<&Trust>) -> Result<(Bundle, Trust), BundleError> {
        use base64::Engine;
        let doc: BundleDoc = serde_json::from_str(text)
            .map_err(|_| BundleError::Malformed("not the bundle JSON"))?;
        if doc.format != BUNDLE_FORMAT {
            return Err(BundleError::Malformed("unknown format"));
        }
        let mut keys = known_from_jwks(&doc.jwks).ok_or(BundleError::Malformed("jwks"))?;
        let mut grown = trust.cloned().unwrap_or_default();
        if let Some(trust) = trust {
            let endorsements: Vec<Vec<u8>> = doc
                .endorsements
                .iter()
                .filter_map(|e| base64::engine::general_purpose::STANDARD.decode(e).ok())
                .collect();
            let mut accepted: Vec<KnownKey> = keys
                .iter()
                .filter(|k| trust.0.contains(&k.key.to_bytes()))
                .cloned()
                .collect();
            // A key is vouched for by one already accepted (and not revoked), until no more
            // are: a verifier that missed several rotations follows the chain.
            loop {
                let vouching: Vec<KnownKey> =
                    accepted.iter().filter(|k| !k.revoked).cloned().collect();
                let newly: Vec<KnownKey> = endorsements
                    .iter()
                    .filter_map(|e| {
                        super::endorsement::verify(e, |kid| keys_with(&vouching, kid)).ok()
                    })
                    .filter_map(|x| keys.iter().find(|k| k.key == x).cloned())
                    .filter(|k| !accepted.iter().any(|a| a.key == k.key))
                    .collect();
                if newly.is_empty() {
                    break;
                }
                accepted.extend(newly);
            }
            if accepted.is_empty() {
                return Err(BundleError::Untrusted);
            }
            for k in accepted.iter().filter(|k| !k.revoked) {
                let b = k.key.to_bytes();
                if !grown.0.contains(&b) {
                    grown.0.push(b);
                }
            }
            keys = accepted;
        }
        let signed_list = |cose: &str| {
            let cose = base64::engine::general_purpose::STANDARD
                .decode(cose.as_bytes())
                .map_err(|_| BundleError::Malformed("a status list's cose is not base64"))?;
            status_list::verify_signature(&cose, |kid| keys_with(&keys, kid)).map_err(|e| match e {
                status_list::StatusListError::Signature("unknown_key") if trust.is_some() => {
                    BundleError::Untrusted
                }
                status_list::StatusListError::Signature(code) => BundleError::Signature(code),
                _ => BundleError::Malformed("status list"),
            })
        };
        let list = signed_list(&doc.status_list.cose)?;
        let mut districts: Vec<StatusList> = Vec::with_capacity(doc.district_lists.len());
        for d in &doc.district_lists {
            let l = signed_list(&d.cose)?;
            // The plain number must be the signed one: a list of one district passed off as
            // another's would show its slots' colours for the wrong people.
            let checks = [
                (
                    "district_lists.district",
                    l.district.map(|x| x.get()) == Some(d.district),
                ),
                ("district_lists.epoch", d.epoch == l.epoch),
                ("district_lists.issued_at", d.issued_at == l.issued_at),
                ("district_lists.expires_at", d.expires_at == l.expires_at),
            ];
            if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
                return Err(BundleError::Tampered(field));
            }
            if districts.iter().any(|x| x.district == l.district) {
                return Err(BundleError::Malformed("a district's list twice"));
            }
            districts.push(l);
        }
        let checks = [
            ("status_list.district", list.district.is_none()),
            ("status_list.epoch", doc.status_list.epoch == list.epoch),
            (
                "status_list.issued_at",
                doc.status_list.issued_at == list.issued_at,
            ),
            (
                "status_list.expires_at",
                doc.status_list.expires_at == list.expires_at,
            ),
            ("server_time", doc.server_time == list.issued_at),
            (
                "max_age_seconds",
                doc.max_age_seconds == list.expires_at - list.issued_at,
            ),
            ("rules_version", doc.rules_version == list.rules_version),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(BundleError::Tampered(field));
        }
        Ok((
            Bundle {
                keys,
                list,
                districts,
            },
            grown,
        ))
    }

    pub fn issued_at(&self) -> i64 {
        self.list.issued_at
    }

    pub fn expires_at(&self) -> i64 {
        self.list.expires_at
    }

    pub fn epoch(&self) -> u64 {
        self.list.epoch
    }

    /// The districts whose lists it carries.
    pub fn districts(&self) -> Vec<DistrictId> {
        self.districts.iter().filter_map(|l| l.district).collect()
    }
}

/// How far a verifier's clock may be from the server's before it is told so.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The device's clock against the server's signed time in a bundle just fetched: `Some`
/// (seconds, positive when the device is ahead) when they disagree by more than
/// [`MAX_CLOCK_SKEW_SECS`]. A device set to the wrong date keeps an old bundle too long or
/// refuses a good one.
pub fn clock_skew(device_now: i64, server_time: i64) -> Option<i64> {
    let skew = device_now.saturating_sub(server_time);
    (skew.abs() > MAX_CLOCK_SKEW_SECS).then_some(skew)
}

/// Where the colour shown came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourSource {
    /// The signed status list of this epoch (newer than the code).
    StatusList { epoch: u64 },
    /// The code itself (newer than the list, or issued beyond it).
    Token,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Valid {
        colour: Colour,
        source: ColourSource,
        /// The masked name and last four ID characters.
        display: String,
        expires_at: i64,
    },
    /// Not a genuine, current code: the verifier's error code (or `revoked`: the holder is no
    /// longer a resident).
    Invalid { code: &'static str },
    /// The bundle is too old to tell: ask for a fresh one. Never shown as green.
    CannotVerify { reason: &'static str },
    /// The code is genuine, but the bundle lacks its district's list: its colour now is not
    /// known offline (the colour it was issued with is no guide to it). Never shown as green:
    /// check online, or fetch a bundle with that district.
    ColourUnknown {
        district: DistrictId,
        display: String,
        expires_at: i64,
    },
}

/// Verifies `text` against `bundle` at `device_now` (seconds since the epoch).
pub fn verify(text: &str, bundle: &Bundle, device_now: i64) -> Outcome {
    let newest = bundle
        .districts
        .iter()
        .map(|l| l.issued_at)
        .fold(bundle.list.issued_at, i64::max);
    let now = device_now.max(newest);
    if now >= bundle.list.expires_at {
        return Outcome::CannotVerify {
            reason: "bundle_too_old",
        };
    }
    let v = match super::verify(text, |kid| keys_with(&bundle.keys, kid), now) {
        Ok(v) => v,
        Err(e) => return Outcome::Invalid { code: e.code() },
    };
    let c = &v.claims;
    let list = match c.district {
        None => &bundle.list,
        Some(d) => match bundle.districts.iter().find(|l| l.district == Some(d)) {
            Some(l) => l,
            None => {
                return Outcome::ColourUnknown {
                    district: d,
                    display: c.display.clone(),
                    expires_at: c.expires_at,
                };
            }
        },
    };
    if now >= list.expires_at {
        return Outcome::CannotVerify {
            reason: "bundle_too_old",
        };
    }
    let from_list = if list.issued_at >= c.issued_at {
        list.bits.get(c.status_index.0)
    } else {
        None
    };
    let (colour, source) = match from_list {
        Some(Slot::Revoked) => return Outcome::Invalid { code: "revoked" },
        Some(Slot::Colour(colour)) => (colour, ColourSource::StatusList { epoch: list.epoch }),
        None => (c.colour, ColourSource::Token),
    };
    Outcome::Valid {
        colour,
        source,
        display: c.display.clone(),
        expires_at: c.expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pinned_keys_and_those_they_vouch_for_are_believed() {
        use base64::Engine;
        let old = SigningKey::from_bytes(&[1; 32]);
        let new = SigningKey::from_bytes(&[2; 32]);
        let attacker = SigningKey::from_bytes(&[3; 32]);
        let now = 1_800_000_000;
        let first = bundle_json(&old, now, &[]).to_string();
        let trust = Trust::pin(&Bundle::from_json(&first).unwrap());
        assert_eq!(trust.len(), 1);
        assert_eq!(Trust::from_json(&trust.to_json()), Some(trust.clone()));
        // The same server, same key: believed, nothing new trusted.
        let (_, grown) = Bundle::from_json_pinned(&first, &trust).unwrap();
        assert_eq!(grown, trust);
        // A bundle swapped wholesale: the attacker's keys and a list they signed.
        let swapped = bundle_json(&attacker, now, &[]).to_string();
        assert!(Bundle::from_json(&swapped).is_ok(), "consistent in itself");
        assert_eq!(
            Bundle::from_json_pinned(&swapped, &trust).unwrap_err(),
            BundleError::Untrusted
        );
        // A rotation: the new key signs, both keys published, the old one vouches for the new.
        let mut rotated = bundle_json(&new, now, &[]);
        let both = |ks: &[&SigningKey]| -> serde_json::Value {
            serde_json::json!({"keys": ks.iter().map(|k| jwks(k)["keys"][0].clone()).collect::<Vec<_>>()})
        };
        rotated["jwks"] = both(&[&old, &new]);
        let without = rotated.to_string();
        assert_eq!(
            Bundle::from_json_pinned(&without, &trust).unwrap_err(),
            BundleError::Untrusted,
            "a new key nobody trusted vouches for is not believed"
        );
        rotated["endorsements"] = serde_json::json!([base64::engine::general_purpose::STANDARD
            .encode(super::super::endorsement::sign(&old, &new.verifying_key()))]);
        let (_, grown) = Bundle::from_json_pinned(&rotated.to_string(), &trust).unwrap();
        assert_eq!(grown.len(), 2);
        // The attacker vouching for themselves does not help.
        let mut forged = bundle_json(&attacker, now, &[]);
        forged["jwks"] = both(&[&old, &attacker]);
        forged["endorsements"] =
            serde_json::json!([base64::engine::general_purpose::STANDARD.encode(
                super::super::endorsement::sign(&attacker, &attacker.verifying_key())
            )]);
        assert_eq!(
            Bundle::from_json_pinned(&forged.to_string(), &trust).unwrap_err(),
            BundleError::Untrusted
        );
    }

    #[test]
    fn a_clock_far_from_the_servers_is_told() {
        assert_eq!(clock_skew(1_000_000, 1_000_000), None);
        assert_eq!(clock_skew(1_000_000 + 299, 1_000_000), None);
        assert_eq!(clock_skew(1_000_000 + 3_600, 1_000_000), Some(3_600));
        assert_eq!(clock_skew(1_000_000 - 86_400, 1_000_000), Some(-86_400));
    }
    use crate::token::status_list::StatusBits;
    use crate::token::{Claims, encode};
    use ed25519_dalek::SigningKey;

    const T0: i64 = 1_800_000_000;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3u8; 32])
    }

    fn jwks(k: &SigningKey) -> serde_json::Value {
        use base64::Engine;
        serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA",
            "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes()),
            "status": "active"}]})
    }

    fn bundle_json(k: &SigningKey, issued_at: i64, slots: &[(u32, Slot)]) -> serde_json::Value {
        use base64::Engine;
        let mut bits = StatusBits::new(0);
        for (i, s) in slots {
            bits.set(*i, *s);
        }
        let list = StatusList {
            district: None,
            epoch: 9,
            issued_at,
            expires_at: issued_at + 6 * 3600,
            rules_version: 1,
            bits,
        };
        let cose = status_list::sign(&list, k);
        serde_json::json!({
            "format": BUNDLE_FORMAT,
            "server_time": issued_at,
            "max_age_seconds": 6 * 3600,
            "rules_version": 1,
            "status_list": {"epoch": 9, "issued_at": issued_at, "expires_at": issued_at + 6 * 3600,
                            "cose": base64::engine::general_purpose::STANDARD.encode(cose)},
            "jwks": jwks(k),
        })
    }

    fn code(k: &SigningKey, colour: Colour, index: u32, iat: i64) -> String {
        district_code(k, colour, None, index, iat)
    }

    fn district_code(
        k: &SigningKey,
        colour: Colour,
        district: Option<DistrictId>,
        index: u32,
        iat: i64,
    ) -> String {
        encode(
            &Claims {
                issuer: "safecode".into(),
                subject: "00000000-0000-0000-0000-000000000001".into(),
                issued_at: iat,
                expires_at: iat + 86_400,
                token_id: [1; 8],
                colour,
                status_index: crate::domain::StatusIndex(index),
                district,
                rules_version: 1,
                display: "李*明 ···1234".into(),
            },
            k,
        )
    }

    /// A bundle carrying the lists of `districts` besides the default one.
    fn with_districts(
        k: &SigningKey,
        issued_at: i64,
        default_slots: &[(u32, Slot)],
        districts: &[(u8, &[(u32, Slot)])],
    ) -> serde_json::Value {
        use base64::Engine;
        let mut b = bundle_json(k, issued_at, default_slots);
        let lists: Vec<serde_json::Value> = districts
            .iter()
            .map(|(d, slots)| {
                let mut bits = StatusBits::new(0);
                for (i, s) in *slots {
                    bits.set(*i, *s);
                }
                let list = StatusList {
                    district: DistrictId::new(i64::from(*d)),
                    epoch: 4,
                    issued_at,
                    expires_at: issued_at + 6 * 3600,
                    rules_version: 1,
                    bits,
                };
                serde_json::json!({"district": d, "epoch": 4, "issued_at": issued_at,
                    "expires_at": issued_at + 6 * 3600,
                    "cose": base64::engine::general_purpose::STANDARD.encode(status_list::sign(&list, k))})
            })
            .collect();
        b["district_lists"] = serde_json::json!(lists);
        b
    }

    #[test]
    fn a_district_code_reads_its_own_list_and_without_it_its_colour_is_unknown() {
        let k = key();
        let (d3, d4) = (DistrictId::new(3), DistrictId::new(4));
        let red = [(42, Slot::Colour(Colour::Red))];
        let b = load(&with_districts(&k, T0, &[], &[(3, &red)]));
        assert_eq!(b.districts(), vec![d3.unwrap()]);
        // Slot 42 is red in district 3's list, green in the default list and in district 4's
        // (which the bundle lacks): each code reads its own.
        let in_3 = district_code(&k, Colour::Green, d3, 42, T0 - 3600);
        match verify(&in_3, &b, T0 + 60) {
            Outcome::Valid { colour, source, .. } => {
                assert_eq!(
                    (colour, source),
                    (Colour::Red, ColourSource::StatusList { epoch: 4 })
                )
            }
            other => panic!("{other:?}"),
        }
        let in_default = code(&k, Colour::Green, 42, T0 - 3600);
        match verify(&in_default, &b, T0 + 60) {
            Outcome::Valid { colour, source, .. } => {
                assert_eq!(
                    (colour, source),
                    (Colour::Green, ColourSource::StatusList { epoch: 9 })
                )
            }
            other => panic!("{other:?}"),
        }
        let in_4 = district_code(&k, Colour::Green, d4, 42, T0 - 3600);
        assert_eq!(
            verify(&in_4, &b, T0 + 60),
            Outcome::ColourUnknown {
                district: d4.unwrap(),
                display: "李*明 ···1234".into(),
                expires_at: T0 - 3600 + 86_400,
            }
        );
        // Forgery is still forgery, list or no list.
        let other = SigningKey::from_bytes(&[4u8; 32]);
        assert_eq!(
            verify(&district_code(&other, Colour::Green, d4, 1, T0), &b, T0),
            Outcome::Invalid {
                code: "unknown_key"
            }
        );
    }

    #[test]
    fn a_district_list_passed_off_as_another_or_as_the_default_is_refused() {
        let k = key();
        let mut swapped = with_districts(&k, T0, &[], &[(3, &[])]);
        swapped["district_lists"][0]["district"] = serde_json::json!(4);
        assert_eq!(
            Bundle::from_json(&swapped.to_string()).unwrap_err(),
            BundleError::Tampered("district_lists.district")
        );
        let mut as_default = with_districts(&k, T0, &[], &[(3, &[])]);
        as_default["status_list"]["cose"] = as_default["district_lists"][0]["cose"].clone();
        as_default["status_list"]["epoch"] = serde_json::json!(4);
        assert_eq!(
            Bundle::from_json(&as_default.to_string()).unwrap_err(),
            BundleError::Tampered("status_list.district")
        );
        let twice = with_districts(&k, T0, &[], &[(3, &[]), (3, &[])]);
        assert!(Bundle::from_json(&twice.to_string()).is_err());
    }

    fn load(v: &serde_json::Value) -> Bundle {
        Bundle::from_json(&v.to_string()).unwrap()
    }

    #[test]
    fn a_green_screenshot_of_someone_red_now_shows_red() {
        let k = key();
        let b = load(&bundle_json(&k, T0, &[(42, Slot::Colour(Colour::Red))]));
        let yesterday = code(&k, Colour::Green, 42, T0 - 3600);
        assert_eq!(
            verify(&yesterday, &b, T0 + 60),
            Outcome::Valid {
                colour: Colour::Red,
                source: ColourSource::StatusList { epoch: 9 },
                display: "李*明 ···1234".into(),
                expires_at: T0 - 3600 + 86_400,
            }
        );
    }

    #[test]
    fn a_code_newer_than_the_list_keeps_its_own_colour() {
        let k = key();
        let b = load(&bundle_json(&k, T0, &[(42, Slot::Colour(Colour::Red))]));
        let fresh = code(&k, Colour::Yellow, 42, T0 + 100);
        match verify(&fresh, &b, T0 + 200) {
            Outcome::Valid { colour, source, .. } => {
                assert_eq!((colour, source), (Colour::Yellow, ColourSource::Token));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stale_bundle_cannot_verify_and_a_rolled_back_clock_revives_nothing() {
        let k = key();
        let b = load(&bundle_json(&k, T0, &[]));
        let c = code(&k, Colour::Green, 7, T0 - 100);
        assert_eq!(
            verify(&c, &b, T0 + 6 * 3600),
            Outcome::CannotVerify {
                reason: "bundle_too_old"
            }
        );
        // Expired a day before the bundle was issued; the device says it is two days earlier.
        let old = code(&k, Colour::Green, 7, T0 - 2 * 86_400);
        assert_eq!(
            verify(&old, &b, T0 - 2 * 86_400 + 10),
            Outcome::Invalid { code: "expired" }
        );
    }

    #[test]
    fn a_revoked_slot_or_a_forged_code_is_invalid() {
        let k = key();
        let b = load(&bundle_json(&k, T0, &[(5, Slot::Revoked)]));
        assert_eq!(
            verify(&code(&k, Colour::Green, 5, T0 - 10), &b, T0),
            Outcome::Invalid { code: "revoked" }
        );
        let other = SigningKey::from_bytes(&[4u8; 32]);
        assert_eq!(
            verify(&code(&other, Colour::Green, 6, T0 - 10), &b, T0),
            Outcome::Invalid {
                code: "unknown_key"
            }
        );
    }

    #[test]
    fn a_tampered_bundle_is_refused() {
        let k = key();
        let good = bundle_json(&k, T0, &[(1, Slot::Colour(Colour::Red))]);
        let mut later = good.clone();
        later["status_list"]["expires_at"] = serde_json::json!(T0 + 30 * 86_400);
        assert_eq!(
            Bundle::from_json(&later.to_string()).unwrap_err(),
            BundleError::Tampered("status_list.expires_at")
        );
        let mut age = good.clone();
        age["max_age_seconds"] = serde_json::json!(30 * 86_400);
        assert_eq!(
            Bundle::from_json(&age.to_string()).unwrap_err(),
            BundleError::Tampered("max_age_seconds")
        );
        // A list signed by someone else, with their key swapped in for the real one, is
        // internally consistent; a list signed by someone else under the real keys is not.
        let mallory = SigningKey::from_bytes(&[6u8; 32]);
        let mut forged = bundle_json(&mallory, T0, &[]);
        forged["jwks"] = jwks(&k);
        assert!(matches!(
            Bundle::from_json(&forged.to_string()).unwrap_err(),
            BundleError::Signature(_)
        ));
        let mut flipped = good.clone();
        let cose = flipped["status_list"]["cose"].as_str().unwrap().to_owned();
        let mut chars: Vec<char> = cose.chars().collect();
        let at = chars.len() / 2;
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        flipped["status_list"]["cose"] = serde_json::json!(chars.into_iter().collect::<String>());
        assert!(Bundle::from_json(&flipped.to_string()).is_err());
        assert!(Bundle::from_json("{}").is_err());
    }
}
