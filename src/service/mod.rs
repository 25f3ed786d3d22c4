//! Use cases: transactions, authorisation decisions, audit entries. One module per area.

pub mod admissions;
pub mod alerts;
pub mod appeals;
pub mod approvals;
pub mod audit;
pub mod authz;
pub mod codes;
pub mod colour;
pub mod deletion;
pub mod devices;
pub mod districts;
pub mod fresh_facts;
pub(crate) mod idempotency;
pub mod import;
pub mod keys;
pub mod live;
pub mod my_data;
pub mod orders;
pub mod overrides;
pub mod passkeys;
pub mod principal_cache;
pub mod printing;
pub mod reclaim;
pub mod relief;
pub mod reports;
pub mod residents;
pub mod retention;
pub mod rules;
pub mod safety;
pub mod scans;
pub mod shelters;
pub mod sign_in;
pub mod status_list;
pub mod status_slots;
pub mod sync;
pub mod tokens;
pub mod trail;
pub mod users;
pub mod zone_history;
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
    /// A streaming replica for reads that may be a moment old (`store::replica`).
    pub replica: Option<std::sync::Arc<crate::store::replica::Replica>>,
    pub id_key: IdHashKey,
    /// The Ed25519 keys that sign and verify codes.
    pub keys: crate::keys::signing::Keyring,
    pub rules: colour::RuleCache,
    /// An appeal without a decision after this long is flagged overdue.
    pub appeal_deadline: chrono::Duration,
    /// How long an incident's personal data outlives its all-clear; the season's end.
    pub retention: crate::config::RetentionSettings,
    /// How long a printed code is valid.
    pub printed_code_days: i64,
    /// Sessions' idle timeout and lifetime, desk phones' default life.
    pub sessions: crate::config::SessionSettings,
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
    /// Woken when SMS were queued for the configured gateway.
    pub sms_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Woken when messages to villages' contacts (DingTalk, email) were queued.
    pub contacts_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Base tiles and the zone charts' sampling period.
    pub map: std::sync::Arc<crate::config::MapSettings>,
    /// The MBTiles file this server serves tiles from, when one is set.
    pub tiles: Option<crate::store::tiles::TileFile>,
    /// The trust and rules of every request to another server.
    pub outbound: crate::outbound::Outbound,
    /// What changed lately, for the consoles' live updates.
    pub live: std::sync::Arc<live::Pulse>,
    /// Scans checked together, per server thread.
    pub scans: scans::ScanBatches,
    /// The facts of residents scanned lately, kept true by the change feed (PostgreSQL only,
    /// and only for `serve`: started by `Application::build`).
    pub fresh_facts: Option<std::sync::Arc<fresh_facts::FreshFacts>>,
}

impl Ctx {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Where a read that may be a moment old goes: the replica while it is close enough
    /// behind (`true`), else the primary.
    pub fn reader(&self) -> (&Db, bool) {
        match self.replica.as_deref().and_then(|r| r.if_fresh()) {
            Some(db) => (db, true),
            None => (&self.db, false),
        }
    }

    /// A read from the replica failed: the primary serves until the replica is probed again.
    pub fn replica_failed(&self) {
        if let Some(r) = &self.replica {
            r.failed();
        }
    }
}

/// Why a use case said no. `http::errors` maps each to one status and problem code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// A sign-in name, password or code that is wrong: one answer for all three.
    #[error("the sign-in name, password or code is wrong")]
    SignInRefused,
    /// Too many wrong sign-ins in a row: the account waits a little.
    #[error("too many wrong attempts; try again in {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    /// The server is already doing as much of this heavy work as it takes at once.
    #[error("{what}: try again in {retry_after_secs} s")]
    Busy {
        what: &'static str,
        retry_after_secs: u64,
    },
    /// A state-changing request with a session cookie that did not come from this site's pages.
    #[error("cross-site request refused")]
    CrossSite,
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
    /// Something that was good once and no longer is (a used or expired one-time link).
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
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
    /// Trouble inside the service that is neither the caller's nor the stored data's fault:
    /// a missing signing key, a file that cannot be read, a value that cannot be encoded.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ServiceError::Internal(e.to_string())
    }

    /// The problem code: the one name of each refusal, for HTTP answers and for the results
    /// of queued desk events alike.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid(i) => i.code,
            ServiceError::Unauthenticated => "unauthenticated",
            ServiceError::SignInRefused => "sign_in_failed",
            ServiceError::Locked { .. } => "account_locked",
            ServiceError::Busy { .. } => "busy",
            ServiceError::CrossSite => "cross_site_request",
            ServiceError::Forbidden => "forbidden",
            ServiceError::OutsideJurisdiction => "outside_jurisdiction",
            ServiceError::SameOfficial => "same_official",
            ServiceError::NotIndependent(_) => "not_independent",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict { code, .. }
            | ServiceError::ConflictWith { code, .. }
            | ServiceError::Gone { code, .. } => code,
            ServiceError::InvalidCode(code) => code,
            ServiceError::IdempotencyKeyReused => "idempotency_key_reused",
            ServiceError::Store(s) if s.is_unavailable() => "database_unavailable",
            ServiceError::Store(_) | ServiceError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Store(StoreError::Db(e))
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
