//! Requests applied once per idempotency key: the one way a use case claims a key inside its
//! transaction, hands a retry the first answer, and stores the answer before committing.
//!
//! ```text
//! let ticket = match idempotency::begin(&ctx.id_key, &mut tx, scope, key, &parts, now).await? {
//!     Once::Replay(first) => return Ok(first),
//!     Once::Go(ticket) => ticket,
//! };
//! … the work …
//! ticket.complete(&mut tx, 201, &answer).await?;
//! ```

use super::{Result, ServiceError};
use crate::keys::IdHashKey;
use crate::store::{self, idempotency as kept};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What identifies a request under an idempotency key: an HMAC of `parts` (length-prefixed so
/// that no two different part lists hash alike) under the secret key in `keys/`, so that a
/// copy of the database cannot be searched for who sent what (a registration's form holds an
/// ID number; a plain hash of it falls to a search over dates of birth in seconds).
pub(crate) fn request_hash(secret: &IdHashKey, parts: &[&[u8]]) -> [u8; 32] {
    let mut joined = Vec::new();
    for p in parts {
        joined.extend_from_slice(&(p.len() as u64).to_be_bytes());
        joined.extend_from_slice(p);
    }
    secret.mac("idempotency", &joined)
}

/// What [`begin`] found.
pub(crate) enum Once<T> {
    /// The first time (or no key): go ahead, then [`Ticket::complete`].
    Go(Ticket),
    /// A retry of a request already answered: its first answer.
    Replay(T),
}

/// The claim on a key, to be completed with the answer in the same transaction (nothing to
/// do for a request that came without a key).
pub(crate) struct Ticket(Option<(String, String)>);

impl Ticket {
    /// Stores the answer a retry will get.
    pub(crate) async fn complete<T: Serialize>(
        &self,
        tx: &mut store::Tx,
        status: u16,
        answer: &T,
    ) -> Result<()> {
        if let Some((scope, key)) = &self.0 {
            let body = serde_json::to_string(answer).map_err(ServiceError::internal)?;
            kept::complete(tx, scope, key, status, &body).await?;
        }
        Ok(())
    }

    /// Gives the key up (the request was refused after it was claimed): a retry is tried
    /// afresh.
    pub(crate) async fn release(&self, tx: &mut store::Tx) -> Result<()> {
        if let Some((scope, key)) = &self.0 {
            kept::release(tx, scope, key).await?;
        }
        Ok(())
    }
}

/// Claims `key` in `scope` for the request made of `parts`; a different request under the
/// same key is `IdempotencyKeyReused`.
pub(crate) async fn begin<T: DeserializeOwned>(
    secret: &IdHashKey,
    tx: &mut store::Tx,
    scope: &str,
    key: Option<&str>,
    parts: &[&[u8]],
    now: DateTime<Utc>,
) -> Result<Once<T>> {
    match key {
        None => Ok(Once::Go(Ticket(None))),
        Some(key) => begin_hashed(tx, scope, key, &request_hash(secret, parts), now).await,
    }
}

/// [`begin`] for an official's form: the key is the sender's own (scope `what:actor`, so that
/// two officials' keys never meet) and the request is `also` followed by the form as JSON,
/// serialised only when a key came.
pub(crate) async fn begin_form<T: DeserializeOwned, F: Serialize>(
    secret: &IdHashKey,
    tx: &mut store::Tx,
    (what, p): (&str, &super::Principal),
    key: Option<&str>,
    also: &[&[u8]],
    form: &F,
    now: DateTime<Utc>,
) -> Result<Once<T>> {
    let Some(key) = key else {
        return Ok(Once::Go(Ticket(None)));
    };
    let form = serde_json::to_vec(form).map_err(ServiceError::internal)?;
    let mut parts = also.to_vec();
    parts.push(&form);
    let scope = format!("{what}:{}", p.actor());
    begin_hashed(tx, &scope, key, &request_hash(secret, &parts), now).await
}

/// [`begin`] for a request hashed beforehand (a batch writer hashes off the transaction).
pub(crate) async fn begin_hashed<T: DeserializeOwned>(
    tx: &mut store::Tx,
    scope: &str,
    key: &str,
    hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Once<T>> {
    match kept::claim(tx, scope, key, hash, now).await? {
        kept::Claim::New => Ok(Once::Go(Ticket(Some((scope.to_owned(), key.to_owned()))))),
        kept::Claim::Mismatch => Err(ServiceError::IdempotencyKeyReused),
        kept::Claim::Replay { body, .. } => serde_json::from_str(&body)
            .map(Once::Replay)
            .map_err(|e| store::StoreError::Corrupt(format!("a stored answer: {e}")).into()),
    }
}
