//! The SC1 decoder and verifier on any text: never panics; what verifies was signed by the key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use safecode::token::{self, Kid, KnownKey};

fuzz_target!(|text: &str| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let known = [KnownKey {
        key: key.verifying_key(),
        revoked: false,
    }];
    let now = 1_795_000_000;
    let _ = token::verify(
        text,
        |kid| known.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        now,
    );
    let _ = token::verify(
        &format!("SC1:{text}"),
        |kid| known.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        now,
    );
});
