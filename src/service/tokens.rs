//! Bearer tokens: 256 random bits, shown once, stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A token in the clear, as handed to its holder once.
pub struct BearerToken(String);

impl BearerToken {
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        Self::from_bytes(b)
    }

    /// A token from 32 secret bytes (for a replayed registration, re-derived from the key).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(format!("sc_{}", URL_SAFE_NO_PAD.encode(b)))
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
