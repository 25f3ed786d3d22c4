//! A verifier bundle as downloaded (JSON, base64 COSE, JWKS) on any bytes: never panics, and a
//! code checked against whatever was accepted never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use safecode::token::offline::{self, Bundle};

fuzz_target!(|text: &str| {
    if let Ok(bundle) = Bundle::from_json(text) {
        let _ = offline::verify("SC1:6BFOXN*TS0BI$ZDFRH", &bundle, 1_795_000_000);
    }
});
