//! Crypto-shredding: personal values in the audit chain are encrypted under a key per person
//! (or per season) kept outside the chain. Destroying the key forgets the values; the chain's
//! hashes cover the ciphertext, so every link still verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// A 256-bit ChaCha20-Poly1305 key. Never logged, never returned.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

impl SealKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        Self(k)
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always valid for ChaCha20-Poly1305.
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("32-byte key"))
    }

    /// base64url(nonce ‖ ciphertext ‖ tag). `context` is bound to the ciphertext (what the
    /// value is and where it sits), so a value cannot be moved to another place unnoticed.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("ChaCha20-Poly1305 seals any length we write");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The plaintext, or None if the text was not sealed by this key in this context.
    pub fn open(&self, context: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let k = SealKey::generate();
        let s = k.seal("resident:a|7|after.address", b"No. 5 River Road");
        assert_eq!(
            k.open("resident:a|7|after.address", &s).as_deref(),
            Some(&b"No. 5 River Road"[..])
        );
        assert!(k.open("resident:a|8|after.address", &s).is_none());
        assert!(
            SealKey::generate()
                .open("resident:a|7|after.address", &s)
                .is_none()
        );
        assert!(!s.contains("River"));
        // Two seals of one value differ (fresh nonce): equal values are not linkable.
        assert_ne!(s, k.seal("resident:a|7|after.address", b"No. 5 River Road"));
    }
}
