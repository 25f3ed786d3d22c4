//! Ed25519 signing keys in the `keys/` folder: `<kid>.pem` (PKCS#8, mode 0600) beside
//! `<kid>.json` (`{"created_at", "status"}`). The newest active key signs; a retired key
//! still verifies the codes it signed; a revoked key verifies nothing. Servers sharing the
//! folder see each other's changes: the folder is read again whenever it changes.

use super::{KeysError, write_secret};
use crate::token::{Kid, KnownKey};
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Retired,
    Revoked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    created_at: DateTime<Utc>,
    status: KeyStatus,
}

#[derive(Clone)]
pub struct Key {
    pub kid: Kid,
    pub signing: SigningKey,
    pub created_at: DateTime<Utc>,
    pub status: KeyStatus,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({}, {:?})", self.kid, self.status)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeysError + '_ {
    move |source| KeysError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_folder(dir: &Path) -> Result<Vec<Key>, KeysError> {
    let mut keys = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let pem = std::fs::read_to_string(&path).map_err(io(&path))?;
        let signing = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|_| KeysError::BadKey { path: path.clone() })?;
        let kid = Kid::of(&signing.verifying_key());
        let meta_path = path.with_extension("json");
        let meta: Meta = match std::fs::read_to_string(&meta_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|_| KeysError::BadKey {
                path: meta_path.clone(),
            })?,
            // `generate` writes the metadata before the key, so a key without it was put there
            // by hand or had its metadata deleted (which must not un-revoke it): trusted for
            // nothing.
            Err(_) => Meta {
                created_at: DateTime::<Utc>::from(
                    std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                ),
                status: KeyStatus::Revoked,
            },
        };
        keys.push(Key {
            kid,
            signing,
            created_at: meta.created_at,
            status: meta.status,
        });
    }
    keys.sort_by_key(|k| (k.created_at, k.kid));
    Ok(keys)
}

fn write_meta(dir: &Path, kid: Kid, meta: &Meta) -> Result<(), KeysError> {
    let path = dir.join(format!("{kid}.json"));
    let tmp = dir.join(format!(".{kid}.json.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(meta).unwrap_or_default()).map_err(io(&tmp))?;
    // A rename is atomic: a server reading the folder never sees half a file.
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

/// The keys of a folder for a verifier, without creating one when there is none.
pub fn known_in(dir: &Path) -> Result<Vec<KnownKey>, KeysError> {
    Ok(read_folder(dir)?
        .iter()
        .map(|k| KnownKey {
            key: k.signing.verifying_key(),
            revoked: k.status == KeyStatus::Revoked,
        })
        .collect())
}

pub use crate::token::known_from_jwks;

/// Creates a new active key in `dir`.
pub fn generate(dir: &Path) -> Result<Key, KeysError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let signing = SigningKey::from_bytes(&seed);
    let kid = Kid::of(&signing.verifying_key());
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeysError::BadKey {
            path: dir.to_owned(),
        })?;
    let created_at = Utc::now();
    write_meta(
        dir,
        kid,
        &Meta {
            created_at,
            status: KeyStatus::Active,
        },
    )?;
    write_secret(&dir.join(format!("{kid}.pem")), pem.as_bytes()).map_err(io(dir))?;
    Ok(Key {
        kid,
        signing,
        created_at,
        status: KeyStatus::Active,
    })
}

/// Sets a key's status. Revoking is for good; retiring keeps verification of issued codes.
pub fn set_status(dir: &Path, kid: Kid, status: KeyStatus) -> Result<(), KeysError> {
    let key = read_folder(dir)?
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| KeysError::NoSuchKey(kid.to_hex()))?;
    if key.status == KeyStatus::Revoked && status != KeyStatus::Revoked {
        return Err(KeysError::Revoked(kid.to_hex()));
    }
    write_meta(
        dir,
        kid,
        &Meta {
            created_at: key.created_at,
            status,
        },
    )
}

/// A new signing key; every key active until now is retired (they still verify).
pub fn rotate(dir: &Path) -> Result<Key, KeysError> {
    let old: Vec<Kid> = read_folder(dir)?
        .into_iter()
        .filter(|k| k.status == KeyStatus::Active)
        .map(|k| k.kid)
        .collect();
    let new = generate(dir)?;
    for kid in old {
        set_status(dir, kid, KeyStatus::Retired)?;
    }
    Ok(new)
}

/// The keys last read, the folder's modification time then, and when they were read.
type Snapshot = (Option<SystemTime>, Instant, Arc<Vec<Key>>);

/// Keys are read again at least this often, whatever the folder's time says: two changes
/// within one tick of the file system's clock leave it unchanged after the second.
const REREAD: Duration = Duration::from_secs(1);

/// The keys of a folder, read again when the folder changes.
#[derive(Clone, Debug)]
pub struct Keyring {
    dir: PathBuf,
    state: Arc<RwLock<Snapshot>>,
}

fn folder_stamp(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

impl Keyring {
    /// Opens the folder, generating a first key when it has none.
    pub fn open(dir: &Path) -> Result<Self, KeysError> {
        if !read_folder(dir)?
            .iter()
            .any(|k| k.status == KeyStatus::Active)
        {
            generate(dir)?;
        }
        let keys = read_folder(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            state: Arc::new(RwLock::new((
                folder_stamp(dir),
                Instant::now(),
                Arc::new(keys),
            ))),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current keys, re-read if another process changed the folder.
    pub fn keys(&self) -> Arc<Vec<Key>> {
        let stamp = folder_stamp(&self.dir);
        if let Ok(s) = self.state.read()
            && s.0 == stamp
            && s.1.elapsed() < REREAD
        {
            return s.2.clone();
        }
        match read_folder(&self.dir) {
            Ok(keys) => {
                let keys = Arc::new(keys);
                if let Ok(mut s) = self.state.write() {
                    *s = (stamp, Instant::now(), keys.clone());
                }
                keys
            }
            // Unreadable now (a half-copied file?): keep using what was read last.
            Err(_) => self.state.read().map(|s| s.2.clone()).unwrap_or_default(),
        }
    }

    /// The key that signs: the newest active one.
    pub fn signer(&self) -> Option<Key> {
        self.keys()
            .iter()
            .rev()
            .find(|k| k.status == KeyStatus::Active)
            .cloned()
    }

    /// Every key a verifier may try, revoked ones marked.
    pub fn known(&self) -> Vec<KnownKey> {
        self.keys()
            .iter()
            .map(|k| KnownKey {
                key: k.signing.verifying_key(),
                revoked: k.status == KeyStatus::Revoked,
            })
            .collect()
    }

    /// The public keys as a JWKS (RFC 8037: OKP, Ed25519), with each key's status.
    pub fn jwks(&self) -> serde_json::Value {
        use base64::Engine;
        let keys: Vec<serde_json::Value> = self
            .keys()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "alg": "EdDSA",
                    "use": "sig",
                    "kid": k.kid.to_hex(),
                    "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.signing.verifying_key().as_bytes()),
                    "status": k.status,
                    "created_at": k.created_at,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_without_its_metadata_is_trusted_for_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path()).unwrap();
        set_status(dir.path(), first.kid, KeyStatus::Revoked).unwrap();
        // Deleting the metadata does not bring a revoked key back.
        std::fs::remove_file(dir.path().join(format!("{}.json", first.kid))).unwrap();
        let known = known_in(dir.path()).unwrap();
        assert!(known.iter().all(|k| k.revoked));
        let ring = Keyring::open(dir.path()).unwrap();
        assert_ne!(
            ring.signer().unwrap().kid,
            first.kid,
            "a fresh key signs instead"
        );
    }

    #[test]
    fn a_revocation_is_seen_even_when_the_folder_time_does_not_move() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(dir.path()).unwrap();
        let key = ring.signer().unwrap();
        let stamp = std::fs::metadata(dir.path()).unwrap().modified().unwrap();
        set_status(dir.path(), key.kid, KeyStatus::Revoked).unwrap();
        // As if both writes had landed within one tick of the file system's clock.
        std::fs::File::open(dir.path())
            .unwrap()
            .set_modified(stamp)
            .unwrap();
        std::thread::sleep(REREAD + Duration::from_millis(100));
        assert_eq!(ring.keys()[0].status, KeyStatus::Revoked);
    }

    #[test]
    fn a_first_key_is_made_rotation_retires_and_revocation_sticks() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(dir.path()).unwrap();
        let first = ring.signer().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(format!("{}.pem", first.kid)))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = rotate(dir.path()).unwrap();
        // Another handle on the same folder (another server) sees the change.
        let other = Keyring::open(dir.path()).unwrap();
        assert_eq!(other.signer().unwrap().kid, second.kid);
        assert_eq!(
            ring.signer().unwrap().kid,
            second.kid,
            "the first handle re-reads the folder"
        );
        let statuses: Vec<(Kid, KeyStatus)> =
            ring.keys().iter().map(|k| (k.kid, k.status)).collect();
        assert!(statuses.contains(&(first.kid, KeyStatus::Retired)));
        set_status(dir.path(), first.kid, KeyStatus::Revoked).unwrap();
        assert!(set_status(dir.path(), first.kid, KeyStatus::Active).is_err());
        let known = ring.known();
        assert!(
            known
                .iter()
                .any(|k| k.revoked && Kid::of(&k.key) == first.kid)
        );
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(jwks["keys"][0]["kid"].as_str().unwrap().len(), 16);
    }
}
