//! Token and image figures: `cargo bench --bench token`.
//!
//! - SC1 verify (prefix, base45, CBOR, COSE, kid lookup, Ed25519, claims, time checks) against
//!   a bare ed25519-dalek verify of the same Sig_structure bytes, in one run.
//! - A PNG of a real token: fast_qr + image against the qrcode crate, same text, same scale.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use safecode::domain::Colour;
use safecode::token::{self, Claims, Kid, KnownKey};
use std::hint::black_box;
use std::time::Instant;

fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(n)
}

fn main() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let now = 1_795_000_000;
    let claims = Claims {
        issuer: "safecode".into(),
        subject: uuid::Uuid::new_v4().to_string(),
        issued_at: now,
        expires_at: now + 86_400,
        token_id: [9; 8],
        colour: Colour::Red,
        status_index: safecode::domain::StatusIndex(1_234_567),
        district: None,
        rules_version: 4,
        display: "张*明 1234".into(),
    };
    let text = token::encode(&claims, &key);
    let known = [KnownKey {
        key: key.verifying_key(),
        revoked: false,
    }];
    let kid = Kid::of(&key.verifying_key());
    // The exact bytes the token's signature covers, for the bare verify.
    let sig_structure = {
        use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
        let bytes = base45::decode(&text[4..]).unwrap();
        let s = CoseSign1::from_tagged_slice(&bytes)
            .or_else(|_| CoseSign1::from_slice(&bytes))
            .unwrap();
        s.tbs_data(&[])
    };
    let signature: Signature = key.sign(&sig_structure);
    let vk = key.verifying_key();
    let n = 20_000;
    let bare = per_op(n, || {
        black_box(vk.verify(black_box(&sig_structure), &signature)).unwrap();
    });
    let sc1 = per_op(n, || {
        let v = token::verify(
            black_box(&text),
            |k| {
                if *k == kid {
                    known.iter().collect()
                } else {
                    vec![]
                }
            },
            now,
        );
        black_box(v).unwrap();
    });
    println!(
        "SC1 verify ({} characters, QR version {})",
        text.len(),
        safecode::qr::version(&text).unwrap()
    );
    println!(
        "  bare Ed25519 verify : {:8.1} us  {:>8.0}/s",
        bare * 1e6,
        1.0 / bare
    );
    println!(
        "  SC1 verify          : {:8.1} us  {:>8.0}/s   ratio {:.2} x the bare rate (goal >= 0.8)",
        sc1 * 1e6,
        1.0 / sc1,
        bare / sc1
    );

    // Offline: the same token against a loaded verifier bundle whose status list (2^21
    // slots, 10 % red) is newer than the token, so the colour comes from the list.
    let bundle = {
        use base64::Engine;
        use safecode::token::status_list::{self, Slot, StatusBits, StatusList};
        let mut bits = StatusBits::new(1 << 21);
        for i in (0..1 << 21).step_by(10) {
            bits.set(i, Slot::Colour(Colour::Red));
        }
        let list = StatusList {
            district: None,
            epoch: 3,
            issued_at: now + 60,
            expires_at: now + 60 + 21_600,
            rules_version: 4,
            bits,
        };
        let cose = status_list::sign(&list, &key);
        let doc = serde_json::json!({
            "format": "safecode-bundle/1", "server_time": now + 60, "max_age_seconds": 21_600,
            "rules_version": 4,
            "status_list": {"epoch": 3, "issued_at": now + 60, "expires_at": now + 60 + 21_600,
                            "cose": base64::engine::general_purpose::STANDARD.encode(cose)},
            "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519",
                "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
                "status": "active"}]},
        });
        safecode::token::offline::Bundle::from_json(&doc.to_string()).unwrap()
    };
    let offline = per_op(n, || {
        let v = safecode::token::offline::verify(black_box(&text), &bundle, now + 120);
        assert!(matches!(
            black_box(v),
            safecode::token::offline::Outcome::Valid { .. }
        ));
    });
    println!(
        "  offline verify      : {:8.1} us  {:>8.0}/s   ratio {:.2} x the bare rate (goal >= 0.8; with a loaded bundle)",
        offline * 1e6,
        1.0 / offline,
        bare / offline
    );

    let m = 2_000;
    let fast = per_op(m, || {
        black_box(safecode::qr::png(black_box(&text), 8).unwrap());
    });
    let slow = per_op(m / 4, || {
        let code = qrcode::QrCode::with_error_correction_level(
            black_box(text.as_bytes()),
            qrcode::EcLevel::Q,
        )
        .unwrap();
        let img = code
            .render::<image::Luma<u8>>()
            .module_dimensions(8, 8)
            .quiet_zone(true)
            .build();
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        black_box(out);
    });
    println!("PNG of the code, 8 px per module");
    println!(
        "  fast_qr + png 1-bit : {:8.3} ms   (goal <= 0.5 ms)",
        fast * 1e3
    );
    println!(
        "  qrcode crate        : {:8.3} ms   ({:.1} x slower; goal >= 4 x)",
        slow * 1e3,
        slow / fast
    );
}
