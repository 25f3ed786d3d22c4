//! The audit chain: each entry's hash covers the previous entry's hash and the entry's own
//! canonical content, so that editing, deleting or reordering any entry breaks every link after it.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a use case asks to be recorded. The store adds the sequence number, the time and the
/// chain hash in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub actor: String,
    pub action: &'static str,
    pub subject: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
}

impl AuditDraft {
    pub fn new(actor: impl Into<String>, action: &'static str) -> Self {
        Self {
            actor: actor.into(),
            action,
            subject: None,
            before: None,
            after: None,
            reason: None,
        }
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn before(mut self, v: serde_json::Value) -> Self {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: serde_json::Value) -> Self {
        self.after = Some(v);
        self
    }

    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = Some(r.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The link before the first entry.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(ChainHash)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

/// One stored entry, exactly as it is hashed. `before` and `after` are kept as the JSON text
/// that was hashed: a database that re-orders JSON keys (PostgreSQL's JSONB does) must not
/// break the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(serialize_with = "micros")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
}

fn micros<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

impl AuditRecord {
    pub fn from_draft(seq: i64, at: DateTime<Utc>, d: &AuditDraft) -> Self {
        Self {
            seq,
            // Both databases keep microseconds; hashing more would not survive a round trip.
            at: at.trunc_subsecs(6),
            actor: d.actor.clone(),
            action: d.action.to_owned(),
            subject: d.subject.clone(),
            before: d.before.as_ref().map(|v| v.to_string()),
            after: d.after.as_ref().map(|v| v.to_string()),
            reason: d.reason.clone(),
        }
    }

    pub fn chain_hash(&self, prev: &ChainHash) -> ChainHash {
        let mut h = Sha256::new();
        h.update(prev.0);
        // Field order is fixed by the struct: this is the canonical form.
        h.update(serde_json::to_vec(self).unwrap_or_default());
        ChainHash(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, reason: &str) -> AuditRecord {
        let d = AuditDraft::new("user:a", "resident.update")
            .subject("resident:b")
            .after(serde_json::json!({"needs": ["elderly"]}))
            .reason(reason);
        AuditRecord::from_draft(
            seq,
            DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap(),
            &d,
        )
    }

    #[test]
    fn hash_depends_on_content_and_previous_link() {
        let a = record(1, "x").chain_hash(&ChainHash::GENESIS);
        assert_eq!(a, record(1, "x").chain_hash(&ChainHash::GENESIS));
        assert_ne!(a, record(1, "y").chain_hash(&ChainHash::GENESIS));
        assert_ne!(a, record(2, "x").chain_hash(&ChainHash::GENESIS));
        assert_ne!(a, record(1, "x").chain_hash(&a));
    }

    #[test]
    fn time_is_hashed_at_microsecond_precision() {
        assert_eq!(record(1, "x").at.timestamp_subsec_nanos(), 123_456_000);
    }
}
