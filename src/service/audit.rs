//! Reading and proving the audit trail.

use super::{Action, Ctx, Principal, Result, authz};
use crate::domain::ChainHash;
use crate::store::{audit, residents};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub after_seq: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    /// Hex SHA-256 link of this entry in the chain.
    pub hash: String,
}

pub const MAX_PAGE: i64 = 1000;

pub async fn list(ctx: &Ctx, p: &Principal, q: Query) -> Result<Vec<EntryView>> {
    authz::authorize(p, Action::ReadAudit)?;
    let mut filter = audit::Filter {
        actor: q.actor,
        action: q.action,
        subjects: q.subject.map(|s| vec![s]),
        since: q.since,
        after_seq: q.after_seq,
        limit: q.limit.unwrap_or(100).clamp(1, MAX_PAGE),
    };
    if let Principal::Resident { id, internal } = p {
        // A resident sees the trail about themselves and their dependents, nothing else.
        let mut mine = vec![format!("resident:{id}")];
        mine.extend(
            residents::dependents(&ctx.db, *internal)
                .await?
                .into_iter()
                .map(|d| format!("resident:{}", d.public_id)),
        );
        filter.subjects = Some(match filter.subjects {
            Some(asked) => asked.into_iter().filter(|s| mine.contains(s)).collect(),
            None => mine,
        });
        if filter.subjects.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
    }
    let parse = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
    Ok(audit::list(&ctx.db, &filter)
        .await?
        .into_iter()
        .map(|e| EntryView {
            seq: e.record.seq,
            at: e.record.at,
            actor: e.record.actor,
            action: e.record.action,
            subject: e.record.subject,
            before: parse(e.record.before),
            after: parse(e.record.after),
            reason: e.record.reason,
            hash: hex::encode(e.hash),
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
// The verify route has its own `Verification`; one name, one schema.
#[schema(as = AuditVerification)]
pub struct Verification {
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// The first entry whose link does not hold, if any.
    pub first_broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokenLink {
    pub seq: i64,
    pub problem: String,
}

/// Walks the whole chain from the start and recomputes every link.
pub async fn verify(ctx: &Ctx, p: &Principal) -> Result<Verification> {
    authz::authorize(p, Action::VerifyAudit)?;
    const PAGE: i64 = 5000;
    let mut prev = ChainHash::GENESIS;
    let mut expected_seq = 1;
    let mut checked = 0;
    let broken = |seq, problem: &str, checked| Verification {
        ok: false,
        entries: checked,
        first_broken: Some(BrokenLink {
            seq,
            problem: problem.to_owned(),
        }),
    };
    loop {
        let page = audit::page(&ctx.db, expected_seq - 1, PAGE).await?;
        let n = page.len() as i64;
        for e in page {
            let seq = e.record.seq;
            if seq != expected_seq {
                return Ok(broken(expected_seq, "entry missing", checked));
            }
            if e.prev_hash != prev.0 {
                return Ok(broken(
                    seq,
                    "previous-hash link does not match the entry before",
                    checked,
                ));
            }
            let hash = e.record.chain_hash(&prev);
            if e.hash != hash.0 {
                return Ok(broken(seq, "content does not match its hash", checked));
            }
            prev = hash;
            expected_seq += 1;
            checked += 1;
        }
        if n < PAGE {
            break;
        }
    }
    let (head_seq, head_hash) = audit::head(&ctx.db).await?;
    if head_seq != checked || head_hash != prev.0 {
        return Ok(broken(
            checked + 1,
            "entries after this point are missing",
            checked,
        ));
    }
    Ok(Verification {
        ok: true,
        entries: checked,
        first_broken: None,
    })
}
