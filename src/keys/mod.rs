//! The `keys/` folder: secrets that never go into the database: the key of the ID-number
//! hash, and the Ed25519 signing keys of the codes ([`signing`]).

pub mod seal;
pub mod signing;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

const ID_HASH_KEY_FILE: &str = "id-hash.key";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("keys folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a key this version can read")]
    BadKey { path: PathBuf },
    #[error("no key {0} in the keys folder")]
    NoSuchKey(String),
    #[error("key {0} is revoked for good")]
    Revoked(String),
}

/// The secret behind the keyed hash of identity document numbers. Every server of one
/// deployment must share it (they share `keys/`): with another key, duplicates go unseen.
#[derive(Clone)]
pub struct IdHashKey([u8; 32]);

impl std::fmt::Debug for IdHashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHashKey(…)")
    }
}

impl IdHashKey {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// HMAC-SHA-256 of `input` under this key.
    pub fn mac(&self, domain: &str, input: &[u8]) -> [u8; 32] {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(domain.as_bytes());
        m.update(&[0]);
        m.update(input);
        m.finalize().into_bytes().into()
    }

    /// Loads the key from `dir`, creating the folder (0700) and the key (0600) on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeysError> {
        let io = |source| KeysError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(ID_HASH_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .map_err(|_| KeysError::BadKey { path: path.clone() })?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| KeysError::BadKey { path })?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_secret(&path, hex::encode(key).as_bytes()).map_err(io)?;
                // Another server may have won the race to create it: use what is on disk.
                Self::load_or_create(dir)
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// Writes a secret file readable by its owner only, never replacing an existing one.
pub(crate) fn write_secret(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(content)?;
            f.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = IdHashKey::load_or_create(dir.path()).unwrap();
        let b = IdHashKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.mac("d", b"x"), b.mac("d", b"x"));
        assert_ne!(a.mac("d", b"x"), a.mac("e", b"x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ID_HASH_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
