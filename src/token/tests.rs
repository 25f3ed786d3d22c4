//! SC1 against its test vectors, and the forgeries and mutations it must refuse.

use super::*;
use coset::cbor::value::Value;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn claims(now: i64) -> Claims {
    Claims {
        issuer: "safecode:xiaoshan".into(),
        subject: "c41a5903-3bce-43a3-b623-4529d0000c76".into(),
        issued_at: now,
        expires_at: now + 86_400,
        token_id: [1, 2, 3, 4, 5, 6, 7, 8],
        colour: Colour::Red,
        status_index: crate::domain::StatusIndex(123_456),
        district: None,
        rules_version: 3,
        display: "王*明 002X".into(),
    }
}

const NOW: i64 = 1_795_000_000;

fn known(k: &SigningKey, revoked: bool) -> KnownKey {
    KnownKey {
        key: k.verifying_key(),
        revoked,
    }
}

fn check(text: &str, keys: &[KnownKey], now: i64) -> Result<Verified, TokenError> {
    verify(
        text,
        |kid| keys.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        now,
    )
}

/// Re-encodes a token after `f` changes its COSE structure (signature kept as is).
fn tamper(text: &str, f: impl FnOnce(&mut CoseSign1)) -> String {
    let mut s = decode_sign1(text).unwrap();
    f(&mut s);
    format!("{PREFIX}{}", base45::encode(s.to_tagged_vec().unwrap()))
}

#[test]
fn the_cose_working_group_vector_is_reproduced_byte_for_byte() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/cose/eddsa-sig-01.json")).unwrap();
    let d: [u8; 32] = hex::decode(v["input"]["sign0"]["key"]["d_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let x = hex::decode(v["input"]["sign0"]["key"]["x_hex"].as_str().unwrap()).unwrap();
    let sk = SigningKey::from_bytes(&d);
    assert_eq!(sk.verifying_key().as_bytes().to_vec(), x);
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .content_format(iana::CoapContentFormat::TextPlainUtf8)
        .build();
    let unprotected = HeaderBuilder::new().key_id(b"11".to_vec()).build();
    let payload = v["input"]["plaintext"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    let unsigned = CoseSign1Builder::new()
        .protected(protected.clone())
        .unprotected(unprotected.clone())
        .payload(payload.clone())
        .build();
    let tbs = unsigned.tbs_data(&[]);
    assert_eq!(
        hex::encode_upper(&tbs),
        v["intermediates"]["ToBeSign_hex"].as_str().unwrap()
    );
    let signed = CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(payload)
        .create_signature(&[], |t| sk.sign(t).to_bytes().to_vec())
        .build();
    let out = signed.to_tagged_vec().unwrap();
    assert_eq!(
        hex::encode_upper(&out),
        v["output"]["cbor"].as_str().unwrap()
    );
    // And the published output verifies with the public key.
    let published =
        CoseSign1::from_tagged_slice(&hex::decode(v["output"]["cbor"].as_str().unwrap()).unwrap())
            .unwrap();
    let vk = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    published
        .verify_signature(&[], |sig, data| {
            vk.verify(data, &Signature::from_slice(sig).unwrap())
        })
        .unwrap();
}

#[test]
fn a_token_round_trips_and_stays_small() {
    let k = key(7);
    let text = encode(&claims(NOW), &k);
    assert!(text.starts_with("SC1:"));
    assert!(text.len() < 320, "{} characters", text.len());
    assert!(
        text[4..]
            .bytes()
            .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b)),
        "QR alphanumeric set only"
    );
    let v = check(&text, &[known(&k, false)], NOW).unwrap();
    assert_eq!(v.claims, claims(NOW));
    assert_eq!(v.kid, Kid::of(&k.verifying_key()));
}

#[test]
fn a_district_claim_round_trips_and_its_absence_changes_nothing() {
    let k = key(7);
    let plain = encode(&claims(NOW), &k);
    let districted = Claims {
        district: crate::domain::DistrictId::new(90),
        ..claims(NOW)
    };
    let text = encode(&districted, &k);
    assert_ne!(text, plain);
    assert_eq!(
        check(&text, &[known(&k, false)], NOW).unwrap().claims,
        districted
    );
    assert_eq!(
        check(&plain, &[known(&k, false)], NOW)
            .unwrap()
            .claims
            .district,
        None
    );
    // A district outside 1..=128 is not a district: the code is malformed, never read as
    // the default list.
    for bad in [Value::from(0), Value::from(129), Value::Text("3".into())] {
        let forged = tamper(&plain, |s| {
            let mut set = cwt::ClaimsSet::from_slice(s.payload.as_ref().unwrap()).unwrap();
            set.rest
                .push((cwt::ClaimName::PrivateUse(-65541), bad.clone()));
            s.payload = Some(set.to_vec().unwrap());
            s.signature = k.sign(&s.tbs_data(&[])).to_bytes().to_vec();
        });
        assert_eq!(
            check(&forged, &[known(&k, false)], NOW).unwrap_err(),
            TokenError::Malformed,
            "{bad:?}"
        );
    }
}

#[test]
fn every_failure_has_its_own_error() {
    let k = key(7);
    let good = encode(&claims(NOW), &k);
    let keys = [known(&k, false)];
    let err = |t: &str| check(t, &keys, NOW).unwrap_err();
    assert_eq!(
        err(&good.replacen("SC1:", "SC2:", 1)),
        TokenError::Malformed,
        "wrong prefix"
    );
    assert_eq!(
        err(&format!("{good}a")),
        TokenError::Malformed,
        "lowercase is not base45"
    );
    assert_eq!(err("SC1:"), TokenError::Malformed);
    let bytes = base45::decode(&good[4..]).unwrap();
    let reenc = |b: &[u8]| format!("{PREFIX}{}", base45::encode(b));
    assert_eq!(
        err(&reenc(&bytes[..bytes.len() - 5])),
        TokenError::Malformed,
        "truncated CBOR"
    );
    let mut extra = bytes.clone();
    extra.push(0);
    assert_eq!(err(&reenc(&extra)), TokenError::Malformed, "trailing bytes");
    let mut wrong_tag = bytes.clone();
    wrong_tag[0] = 0xd3; // tag 19
    assert_eq!(err(&reenc(&wrong_tag)), TokenError::Malformed, "wrong tag");
    assert_eq!(
        err(&"SC1:".repeat(300)),
        TokenError::Malformed,
        "over the size cap"
    );
    let es256 = tamper(&good, |s| {
        s.protected = coset::ProtectedHeader {
            original_data: None,
            header: HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .key_id(Kid::of(&k.verifying_key()).0.to_vec())
                .build(),
        }
    });
    assert_eq!(err(&es256), TokenError::UnsupportedAlg);
    let no_kid = tamper(&good, |s| {
        s.protected = coset::ProtectedHeader {
            original_data: None,
            header: HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
        }
    });
    assert_eq!(err(&no_kid), TokenError::Malformed, "missing kid");
    let kid7 = tamper(&good, |s| {
        s.protected = coset::ProtectedHeader {
            original_data: None,
            header: HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .key_id(vec![1; 7])
                .build(),
        }
    });
    assert_eq!(err(&kid7), TokenError::Malformed, "kid of 7 bytes");
    assert_eq!(
        check(&good, &[known(&key(8), false)], NOW).unwrap_err(),
        TokenError::UnknownKey
    );
    let flipped = tamper(&good, |s| s.signature[10] ^= 1);
    assert_eq!(err(&flipped), TokenError::BadSignature);
    assert_eq!(
        check(&good, &[known(&k, true)], NOW).unwrap_err(),
        TokenError::RevokedKey
    );
    assert_eq!(
        check(&good, &keys, NOW + 86_400).unwrap_err(),
        TokenError::Expired
    );
    assert_eq!(
        check(&good, &keys, NOW - SKEW_SECONDS - 1).unwrap_err(),
        TokenError::NotYetValid
    );
    assert!(
        check(&good, &keys, NOW - SKEW_SECONDS).is_ok(),
        "within the skew"
    );
    // A payload that is not a claims set, validly signed, is still malformed.
    let odd = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .key_id(Kid::of(&k.verifying_key()).0.to_vec())
                .build(),
        )
        .payload(Value::Text("hi".into()).to_vec().unwrap())
        .create_signature(&[], |t| k.sign(t).to_bytes().to_vec())
        .build();
    assert_eq!(
        err(&format!(
            "{PREFIX}{}",
            base45::encode(odd.to_tagged_vec().unwrap())
        )),
        TokenError::Malformed
    );
}

#[test]
fn untagged_cose_is_accepted_and_a_kid_shared_by_two_keys_tries_both() {
    let k = key(7);
    let good = encode(&claims(NOW), &k);
    let s = decode_sign1(&good).unwrap();
    let untagged = format!("{PREFIX}{}", base45::encode(s.to_vec().unwrap()));
    assert!(check(&untagged, &[known(&k, false)], NOW).is_ok());
    let other = known(&key(9), false);
    let right = known(&k, false);
    let both = [other, right];
    let v = verify(&good, |_| both.iter().collect(), NOW);
    assert!(v.is_ok(), "the second key with the same kid verifies");
}

proptest::proptest! {
    #[test]
    fn the_decoder_never_panics(s in "\\PC{0,400}") {
        let _ = check(&s, &[known(&key(7), false)], NOW);
        let _ = check(&format!("SC1:{s}"), &[known(&key(7), false)], NOW);
    }

    #[test]
    fn mutated_tokens_are_never_accepted(pos in 4usize..200, byte in 0u8..45) {
        let k = key(7);
        let good = encode(&claims(NOW), &k);
        let mut b = good.clone().into_bytes();
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        let pos = pos % b.len();
        let replacement = alphabet[byte as usize];
        proptest::prop_assume!(pos >= 4 && b[pos] != replacement);
        b[pos] = replacement;
        let mutated = String::from_utf8(b).unwrap();
        proptest::prop_assert!(check(&mutated, &[known(&k, false)], NOW).is_err(), "a mutated token verified: {}", mutated);
    }
}

/// CBOR can spell the same COSE array in other ways that the signature does not cover; only
/// the canonical bytes (with or without tag 18) verify.
#[test]
fn only_the_canonical_encoding_verifies() {
    let k = key(7);
    let good = encode(&claims(NOW), &k);
    let bytes = base45::decode(&good[PREFIX.len()..]).unwrap();
    assert_eq!(&bytes[..2], &[0xD2, 0x84], "tag 18, then an array of four");
    let respell = |b: Vec<u8>| format!("{PREFIX}{}", base45::encode(&b));
    let two_byte_tag = [&[0xD8, 0x12][..], &bytes[1..]].concat();
    let long_array = [&[0xD2, 0x98, 0x04][..], &bytes[2..]].concat();
    for other in [two_byte_tag, long_array] {
        assert_eq!(
            check(&respell(other), &[known(&k, false)], NOW).unwrap_err(),
            TokenError::Malformed
        );
    }
    assert!(check(&respell(bytes[1..].to_vec()), &[known(&k, false)], NOW).is_ok());
    assert!(check(&format!("{good}\n"), &[known(&k, false)], NOW).is_err());
}

/// 100,000 mutations of real tokens — bit flips, truncations, insertions and swaps of the
/// signed bytes re-encoded as valid base45, and character edits of the text — verify as
/// nothing: the only string accepted is a real token's own (or the same COSE bytes without
/// their optional tag 18, which the format allows).
#[test]
fn a_hundred_thousand_mutations_are_never_accepted() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5afe_c0de);
    let k = key(7);
    let keys = [known(&k, false)];
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let originals: Vec<String> = (0..8u8)
        .map(|i| {
            let mut c = claims(NOW);
            c.token_id = [i; 8];
            c.status_index = crate::domain::StatusIndex(u32::from(i) * 1000);
            encode(&c, &k)
        })
        .collect();
    let untagged = |t: &str| {
        let b = base45::decode(&t[PREFIX.len()..]).unwrap();
        // 0xD2 is tag 18 in one byte.
        b.strip_prefix(&[0xD2]).map(<[u8]>::to_vec).unwrap_or(b)
    };
    let (mut tried, mut accepted_other, mut accepted_untagged) = (0u32, 0u32, 0u32);
    while tried < 100_000 {
        let original = &originals[rng.random_range(0..originals.len())];
        let mut bytes = base45::decode(&original[PREFIX.len()..]).unwrap();
        let mut text = original.clone().into_bytes();
        let mutant = match rng.random_range(0..7) {
            0 => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
                None
            }
            1 => {
                bytes.truncate(rng.random_range(0..bytes.len()));
                None
            }
            2 => {
                let i = rng.random_range(0..=bytes.len());
                bytes.insert(i, rng.random());
                None
            }
            3 => {
                let (i, j) = (
                    rng.random_range(0..bytes.len()),
                    rng.random_range(0..bytes.len()),
                );
                bytes.swap(i, j);
                None
            }
            4 => {
                let i = rng.random_range(PREFIX.len()..text.len());
                text[i] = alphabet[rng.random_range(0..alphabet.len())];
                Some(text)
            }
            5 => {
                text.truncate(rng.random_range(0..text.len()));
                Some(text)
            }
            _ => {
                let i = rng.random_range(PREFIX.len()..=text.len());
                text.insert(i, alphabet[rng.random_range(0..alphabet.len())]);
                Some(text)
            }
        };
        let mutated = match mutant {
            Some(t) => String::from_utf8(t).unwrap(),
            None => format!("{PREFIX}{}", base45::encode(&bytes)),
        };
        if &mutated == original {
            continue;
        }
        tried += 1;
        if check(&mutated, &keys, NOW).is_ok() {
            if untagged(&mutated) == untagged(original) {
                accepted_untagged += 1;
            } else {
                accepted_other += 1;
                eprintln!("accepted: {mutated}");
            }
        }
    }
    eprintln!(
        "{tried} mutations: {accepted_other} accepted, {accepted_untagged} the untagged form"
    );
    assert_eq!(accepted_other, 0, "a mutated token verified");
}

/// The published test vectors in fixtures/tokens/ (key, token, time, expected result) must
/// say what this verifier says. `SC1_WRITE_VECTORS=1 cargo test --lib vectors` rewrites them.
#[test]
fn the_published_vectors_hold() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tokens");
    let k = key(7);
    let good = encode(&claims(NOW), &k);
    let districted = Claims {
        district: crate::domain::DistrictId::new(3),
        ..claims(NOW)
    };
    let cases: Vec<(&str, String, i64, Vec<KnownKey>, &str)> = vec![
        (
            "valid",
            good.clone(),
            NOW + 60,
            vec![known(&k, false)],
            "valid",
        ),
        (
            "valid_district",
            encode(&districted, &k),
            NOW + 60,
            vec![known(&k, false)],
            "valid",
        ),
        (
            "malformed",
            good.replacen("SC1:", "SC9:", 1),
            NOW,
            vec![known(&k, false)],
            "malformed",
        ),
        (
            "unsupported_alg",
            tamper(&good, |s| {
                s.protected = coset::ProtectedHeader {
                    original_data: None,
                    header: HeaderBuilder::new()
                        .algorithm(iana::Algorithm::ES256)
                        .key_id(Kid::of(&k.verifying_key()).0.to_vec())
                        .build(),
                }
            }),
            NOW,
            vec![known(&k, false)],
            "unsupported_alg",
        ),
        (
            "unknown_key",
            good.clone(),
            NOW,
            vec![known(&key(8), false)],
            "unknown_key",
        ),
        (
            "revoked_key",
            good.clone(),
            NOW,
            vec![known(&k, true)],
            "revoked_key",
        ),
        (
            "bad_signature",
            tamper(&good, |s| s.signature[0] ^= 0x80),
            NOW,
            vec![known(&k, false)],
            "bad_signature",
        ),
        (
            "expired",
            good.clone(),
            NOW + 86_400,
            vec![known(&k, false)],
            "expired",
        ),
        (
            "not_yet_valid",
            good.clone(),
            NOW - 3600,
            vec![known(&k, false)],
            "not_yet_valid",
        ),
    ];
    let write = std::env::var("SC1_WRITE_VECTORS").is_ok();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, token, now, keys, expected) in cases {
        let verified = check(&token, &keys, now);
        let got = match &verified {
            Ok(_) => "valid",
            Err(e) => e.code(),
        };
        assert_eq!(got, expected, "{name}");
        let vector = serde_json::json!({
            "description": format!("SC1 test vector: {name}"),
            "token": token,
            "now": now,
            "keys": keys.iter().map(|k| serde_json::json!({
                "kid": Kid::of(&k.key).to_hex(),
                "x_hex": hex::encode(k.key.as_bytes()),
                "status": if k.revoked { "revoked" } else { "active" },
            })).collect::<Vec<_>>(),
            "expected": expected,
            "claims": match &verified { Ok(v) => serde_json::to_value(&v.claims).unwrap(), Err(_) => serde_json::Value::Null },
        });
        let path = dir.join(format!("{name}.json"));
        if write {
            std::fs::write(&path, serde_json::to_string_pretty(&vector).unwrap() + "\n").unwrap();
        }
        let published: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            published, vector,
            "fixtures/tokens/{name}.json is out of date"
        );
    }
}

/// A batch of codes gets, code by code, exactly the answers single verification gives: good
/// codes under one key, two keys sharing nothing, a revoked key, an unknown key, a forged
/// signature (which fails the batch and sends everyone to the single path), expired and
/// malformed codes, in every order.
#[test]
fn verifying_many_answers_each_code_as_verifying_one_does() {
    use rand::seq::SliceRandom;
    let (a, b, revoked, stranger) = (key(1), key(2), key(3), key(4));
    let keys = [known(&a, false), known(&b, false), known(&revoked, true)];
    let mut good = claims(NOW);
    let mut codes: Vec<String> = (0..20)
        .map(|i| {
            good.token_id = [i; 8];
            encode(&good, if i % 2 == 0 { &a } else { &b })
        })
        .collect();
    let forged = tamper(&codes[0], |s| s.signature[5] ^= 1);
    let mut old = claims(NOW - 200_000);
    old.expires_at = NOW - 10;
    codes.extend([
        encode(&good, &revoked),
        encode(&good, &stranger),
        forged,
        encode(&old, &a),
        "SC1:not base45".to_owned(),
        format!("HC1:{}", &codes[1][4..]),
    ]);
    let lookup = |kid: &Kid| keys.iter().filter(|k| Kid::of(&k.key) == *kid).collect();
    let mut rng = rand::rng();
    for round in 0..50 {
        codes.shuffle(&mut rng);
        // All of them, then only the good ones (the batch passes), then a few.
        let take = match round % 3 {
            0 => codes.len(),
            1 => 20,
            _ => 3,
        };
        let texts: Vec<&str> = if round % 3 == 1 {
            codes
                .iter()
                .filter(|c| check(c, &keys, NOW).is_ok())
                .map(String::as_str)
                .collect()
        } else {
            codes.iter().take(take).map(String::as_str).collect()
        };
        let many = verify_many(&texts, lookup, NOW);
        let one: Vec<_> = texts.iter().map(|t| check(t, &keys, NOW)).collect();
        assert_eq!(many, one);
    }
    let answers = verify_many(
        &codes.iter().map(String::as_str).collect::<Vec<_>>(),
        lookup,
        NOW,
    );
    assert_eq!(answers.iter().filter(|r| r.is_ok()).count(), 20);
    for e in [
        TokenError::RevokedKey,
        TokenError::UnknownKey,
        TokenError::BadSignature,
        TokenError::Expired,
        TokenError::Malformed,
    ] {
        assert!(answers.contains(&Err(e)), "{e:?} missing");
    }
}
