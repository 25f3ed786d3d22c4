//! Use cases: transactions, authorisation decisions, audit entries. One module per area.

pub mod admissions;
pub mod alerts;
pub mod appeals;
pub mod approvals;
pub mod audit;
pub mod authz;
pub mod codes;
pub mod colour;
pub mod import;
pub mod keys;
pub mod orders;
pub mod overrides;
pub mod principal_cache;
pub mod reclaim;
pub mod relief;
pub mod reports;
pub mod residents;
pub mod rules;
pub mod safety;
pub mod shelters;
pub mod status_list;
pub mod sync;
pub mod tokens;
pub mod users;
pub mod webhook;
pub mod zones;

use crate::domain::Invalid;
use crate::keys::IdHashKey;
use crate::store::{Db, StoreError};
use chrono::{DateTime, Utc};

pub use authz::{Action, Principal};

/// What every use case needs: the database and the secrets.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub db: Db,
    pub id_key: IdHashKey,
    /// The Ed25519 keys that sign and verify codes.
    pub keys: crate::keys::signing::Keyring,
    pub rules: colour::RuleCache,
    /// An appeal without a decision after this long is flagged overdue.
    pub appeal_deadline: chrono::Duration,
    /// An account created by another decides no approval until it is this old.
    pub approver_cooling_off: chrono::Duration,
    /// Bearer token → principal, for a moment (see `principal_cache`).
    pub principals: principal_cache::PrincipalCache,
    /// Queues admissions for this process's batching writer.
    pub admissions: admissions::AdmissionWriter,
    pub status_lists: std::sync::Arc<status_list::StatusLists>,
    /// CAP sender, feed address, webhook.
    pub alerting: std::sync::Arc<crate::config::AlertingSettings>,
    /// The audit chain's head this process signed last.
    pub anchors: std::sync::Arc<audit::AnchorMemory>,
    /// Woken when webhook messages were queued, so they leave at once.
    pub webhook_wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Ctx {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Why a use case said no. `http::errors` maps each to one status and problem code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("this role may not do that")]
    Forbidden,
    #[error("outside your jurisdiction")]
    OutsideJurisdiction,
    #[error("a second, different official must decide this")]
    SameOfficial,
    /// The decider's account and the requester's are not two independent people.
    #[error("{0}")]
    NotIndependent(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// A conflict with what the caller needs to act on it (where the resident is sheltered,
    /// the nearest shelters with room, what remains of a quota), as problem extension members.
    #[error("{detail}")]
    ConflictWith {
        code: &'static str,
        detail: String,
        extensions: serde_json::Map<String, serde_json::Value>,
    },
    /// A scanned code that is not genuine: the verifier's error code.
    #[error("the code is not valid: {0}")]
    InvalidCode(&'static str),
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Store(StoreError::Db(e))
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// What identifies a request under an idempotency key: an HMAC of `parts` (length-prefixed so
/// that no two different part lists hash alike) under the secret key in `keys/`, so that a
/// copy of the database cannot be searched for who sent what (a registration's form holds an
/// ID number; a plain hash of it falls to a search over dates of birth in seconds).
pub(crate) fn request_hash(key: &IdHashKey, parts: &[&[u8]]) -> [u8; 32] {
    let mut joined = Vec::new();
    for p in parts {
        joined.extend_from_slice(&(p.len() as u64).to_be_bytes());
        joined.extend_from_slice(p);
    }
    key.mac("idempotency", &joined)
}

/// Claims an idempotency key inside `tx` for a request identified by `parts`: `Some` with
/// the first answer when this is a retry, `None` to go ahead (then store the answer with
/// `store::idempotency::complete` before committing).
pub(crate) async fn replayed<T: serde::de::DeserializeOwned>(
    secret: &IdHashKey,
    tx: &mut crate::store::Tx,
    scope: &str,
    key: &str,
    parts: &[&[u8]],
    now: DateTime<Utc>,
) -> Result<Option<T>> {
    replayed_hash(tx, scope, key, &request_hash(secret, parts), now).await
}

/// [`replayed`] for a request hashed beforehand.
pub(crate) async fn replayed_hash<T: serde::de::DeserializeOwned>(
    tx: &mut crate::store::Tx,
    scope: &str,
    key: &str,
    hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<T>> {
    use crate::store::idempotency::{Claim, claim};
    match claim(tx, scope, key, hash, now).await? {
        Claim::New => Ok(None),
        Claim::Mismatch => Err(ServiceError::IdempotencyKeyReused),
        Claim::Replay { body, .. } => serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()).into()),
    }
}
