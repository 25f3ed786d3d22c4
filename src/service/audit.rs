//! Reading and proving the audit trail.

use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::ChainHash;
use crate::store::{audit, residents};
use crate::token::anchor::Anchor;
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
    let entries = if authz::jurisdiction(p).is_some() {
        in_jurisdiction(ctx, p, filter).await?
    } else {
        audit::list(&ctx.db, &filter).await?
    };
    let parse = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
    Ok(entries
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

/// Pages read at most for one answer to an official with a district, so that a trail full of
/// other districts' entries cannot make one request read the whole log.
const MAX_SCANNED_PAGES: usize = 20;

/// The entries an official with a district may read: those about residents inside it, and
/// their own. Others (other districts' people, accounts, rule sets) are left out; the page
/// is filled from later entries, and `after_seq` of the last one returned pages on.
async fn in_jurisdiction(
    ctx: &Ctx,
    p: &Principal,
    mut filter: audit::Filter,
) -> Result<Vec<audit::StoredEntry>> {
    let want = filter.limit as usize;
    let me = p.actor();
    let mut out = Vec::new();
    for _ in 0..MAX_SCANNED_PAGES {
        let page = audit::list(&ctx.db, &filter).await?;
        let full = page.len() as i64 == filter.limit;
        let ids: Vec<uuid::Uuid> = page
            .iter()
            .filter_map(|e| e.record.subject.as_deref()?.strip_prefix("resident:"))
            .filter_map(|s| uuid::Uuid::parse_str(s).ok())
            .collect();
        let inside: std::collections::HashSet<uuid::Uuid> = residents::locations_of(&ctx.db, &ids)
            .await?
            .into_iter()
            .filter(|(_, lat, lon)| {
                authz::sees(p, crate::domain::Location::from_columns(*lat, *lon))
            })
            .map(|(id, _, _)| id)
            .collect();
        filter.after_seq = page.last().map(|e| e.record.seq).or(filter.after_seq);
        for e in page {
            let about_inside = e
                .record
                .subject
                .as_deref()
                .and_then(|s| s.strip_prefix("resident:"))
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .is_some_and(|id| inside.contains(&id));
            if about_inside || e.record.actor == me {
                out.push(e);
                if out.len() == want {
                    return Ok(out);
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
// The verify route has its own `Verification`; one name, one schema.
#[schema(as = AuditVerification)]
pub struct Verification {
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// Signed heads the chain was checked against.
    pub heads_checked: usize,
    /// The first entry whose link does not hold, if any.
    pub first_broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokenLink {
    pub seq: i64,
    pub problem: String,
}

/// Walks the whole chain from the start and recomputes every link, then checks it against the
/// newest signed head in the database and the one this process signed last (see [`anchor`]).
pub async fn verify(ctx: &Ctx, p: &Principal) -> Result<Verification> {
    authz::authorize(p, Action::VerifyAudit)?;
    let mut anchors: Vec<Anchor> = newest_trusted(ctx)
        .await?
        .map(|(a, _)| a)
        .into_iter()
        .collect();
    if let Some(a) = ctx.anchors.last()
        && !anchors.contains(&a)
    {
        anchors.push(a);
    }
    verify_chain(ctx, &anchors).await
}

/// The same, against signed heads kept outside the database (`GET /v1/audit/head` saved by
/// an auditor, a shelter tablet, a newspaper). A head that does not verify is refused.
pub async fn verify_against(ctx: &Ctx, p: &Principal, heads: &[String]) -> Result<Verification> {
    authz::authorize(p, Action::VerifyAudit)?;
    verify_heads(ctx, heads).await
}

/// [`verify_against`] for the operator at the command line (`safecode audit verify`), who
/// holds the database already.
pub async fn verify_heads(ctx: &Ctx, heads: &[String]) -> Result<Verification> {
    if heads.len() > 1000 {
        return Err(
            crate::domain::Invalid::new("heads", "too_many_heads", "at most 1000 heads").into(),
        );
    }
    let mut anchors = Vec::with_capacity(heads.len());
    for (i, h) in heads.iter().enumerate() {
        let bytes = decode_head(h).ok_or_else(|| {
            crate::domain::Invalid::new(
                format!("heads[{i}]"),
                "malformed_head",
                "a head is the base64url `cose` of GET /v1/audit/head",
            )
        })?;
        anchors.push(read_anchor(ctx, &bytes).map_err(|code| {
            crate::domain::Invalid::new(
                format!("heads[{i}]"),
                "invalid_head",
                format!("the head's signature does not verify: {code}"),
            )
        })?);
    }
    if let Some((a, _)) = newest_trusted(ctx).await? {
        anchors.push(a);
    }
    verify_chain(ctx, &anchors).await
}

pub fn decode_head(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let t = text.trim();
    (t.len() <= 4096).then_some(())?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
}

/// Signed heads looked at, newest first, for one that still verifies.
const TRUSTED_SEARCH: i64 = 1000;

/// The newest signed head in the database whose key is known and not revoked. Heads signed by
/// a revoked key are passed over: that key may be in other hands, so what it signed proves
/// nothing (and its revocation must not stop the signing of new heads).
async fn newest_trusted(ctx: &Ctx) -> Result<Option<(Anchor, Vec<u8>)>> {
    for bytes in audit::recent_anchors(&ctx.db, TRUSTED_SEARCH).await? {
        match read_anchor(ctx, &bytes) {
            Ok(a) => return Ok(Some((a, bytes))),
            Err(code) => {
                tracing::warn!(code, "a signed audit head does not verify; passing over it")
            }
        }
    }
    Ok(None)
}

fn read_anchor(ctx: &Ctx, bytes: &[u8]) -> std::result::Result<Anchor, &'static str> {
    let known = ctx.keys.known();
    crate::token::anchor::verify(bytes, |kid| {
        known
            .iter()
            .filter(|k| crate::token::Kid::of(&k.key) == *kid)
            .collect()
    })
    .map_err(|e| e.code())
}

impl Verification {
    fn broken(seq: i64, problem: &str, checked: i64, anchors: usize) -> Self {
        Verification {
            ok: false,
            entries: checked,
            heads_checked: anchors,
            first_broken: Some(BrokenLink {
                seq,
                problem: problem.to_owned(),
            }),
        }
    }
}

async fn verify_chain(ctx: &Ctx, anchors: &[Anchor]) -> Result<Verification> {
    const PAGE: i64 = 5000;
    // Several heads may name one entry (a kept copy and the database's own): each must hold.
    let mut expected: std::collections::HashMap<i64, Vec<[u8; 32]>> = Default::default();
    for a in anchors {
        expected.entry(a.seq as i64).or_default().push(a.hash);
    }
    let mut prev = ChainHash::GENESIS;
    let mut expected_seq = 1;
    let mut checked = 0;
    let n_anchors = anchors.len();
    loop {
        let page = audit::page(&ctx.db, expected_seq - 1, PAGE).await?;
        let n = page.len() as i64;
        for e in page {
            let seq = e.record.seq;
            if seq != expected_seq {
                return Ok(Verification::broken(
                    expected_seq,
                    "entry missing",
                    checked,
                    n_anchors,
                ));
            }
            if e.prev_hash != prev.0 {
                return Ok(Verification::broken(
                    seq,
                    "previous-hash link does not match the entry before",
                    checked,
                    n_anchors,
                ));
            }
            let hash = e.record.chain_hash(&prev);
            if e.hash != hash.0 {
                return Ok(Verification::broken(
                    seq,
                    "content does not match its hash",
                    checked,
                    n_anchors,
                ));
            }
            if expected
                .get(&seq)
                .is_some_and(|hs| hs.iter().any(|h| *h != hash.0))
            {
                return Ok(Verification::broken(
                    seq,
                    "the chain up to here differs from a signed head: entries were rewritten",
                    checked,
                    n_anchors,
                ));
            }
            prev = hash;
            expected_seq += 1;
            checked += 1;
        }
        if n < PAGE {
            break;
        }
    }
    if let Some(max) = anchors.iter().map(|a| a.seq as i64).max()
        && max > checked
    {
        return Ok(Verification::broken(
            checked + 1,
            "a signed head names entries the chain no longer has: entries were removed",
            checked,
            n_anchors,
        ));
    }
    let (head_seq, head_hash) = audit::head(&ctx.db).await?;
    if head_seq != checked || head_hash != prev.0 {
        return Ok(Verification::broken(
            checked + 1,
            "entries after this point are missing",
            checked,
            n_anchors,
        ));
    }
    Ok(Verification {
        ok: true,
        entries: checked,
        heads_checked: n_anchors,
        first_broken: None,
    })
}

/// The signed heads this process made, newest last, so that deleting the database's copies
/// does not hide a rewrite from the server that signed them.
#[derive(Debug, Default)]
pub struct AnchorMemory(std::sync::RwLock<Option<Anchor>>);

impl AnchorMemory {
    pub fn last(&self) -> Option<Anchor> {
        self.0.read().ok().and_then(|g| *g)
    }

    fn remember(&self, a: Anchor) {
        if let Ok(mut g) = self.0.write() {
            *g = Some(a);
        }
    }
}

/// The newest signed head, as published at `GET /v1/audit/head`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedHead {
    /// Entries in the chain when it was signed.
    pub seq: i64,
    /// Hex SHA-256 chain hash of entry `seq`.
    pub hash: String,
    pub signed_at: DateTime<Utc>,
    /// The key that signed it (see `GET /v1/keys`).
    pub kid: String,
    /// The COSE_Sign1 itself, base64url: keep it, and give it back to `POST /v1/audit/verify`.
    pub cose: String,
}

pub async fn head(ctx: &Ctx) -> Result<SignedHead> {
    use base64::Engine;
    let (a, bytes) = newest_trusted(ctx)
        .await?
        .ok_or(ServiceError::NotFound("signed head"))?;
    let kid = crate::token::anchor::kid(&bytes)
        .map(crate::token::Kid::to_hex)
        .unwrap_or_default();
    Ok(SignedHead {
        seq: a.seq as i64,
        hash: hex::encode(a.hash),
        signed_at: DateTime::from_timestamp(a.signed_at, 0).unwrap_or_default(),
        kid,
        cose: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    })
}

/// Signs the chain's head, after checking that the chain still leads to the last head signed
/// (in this process's memory, else in the database): a server never signs over a rewrite.
pub async fn anchor(ctx: &Ctx) -> Result<Option<Anchor>> {
    let mut known: Vec<Anchor> = newest_trusted(ctx)
        .await?
        .map(|(a, _)| a)
        .into_iter()
        .collect();
    known.extend(ctx.anchors.last());
    for a in &known {
        let at = audit::hash_at(&ctx.db, a.seq as i64).await?;
        if a.seq > 0 && at.as_deref() != Some(&a.hash[..]) {
            tracing::error!(
                seq = a.seq,
                "audit entries under a signed head were rewritten or removed; not signing"
            );
            return Ok(None);
        }
    }
    let from = known.iter().map(|a| a.seq as i64).max().unwrap_or(0);
    let (seq, hash) = audit::head(&ctx.db).await?;
    if !segment_holds(ctx, from, seq, &hash).await? {
        tracing::error!(
            from,
            to = seq,
            "audit chain links after the last signed head do not hold; not signing"
        );
        return Ok(None);
    }
    let Some(key) = ctx.keys.signer() else {
        return Ok(None);
    };
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| crate::store::StoreError::Corrupt("audit head hash".into()))?;
    let now = ctx.now();
    let a = Anchor {
        seq: seq as u64,
        hash,
        signed_at: now.timestamp(),
    };
    let bytes = crate::token::anchor::sign(&a, &key.signing);
    audit::save_anchor(&ctx.db, seq, &hash, now, &bytes).await?;
    ctx.anchors.remember(a);
    Ok(Some(a))
}

/// Whether entries `from + 1 ..= to` link to entry `from` and end in `head_hash`.
async fn segment_holds(ctx: &Ctx, from: i64, to: i64, head_hash: &[u8]) -> Result<bool> {
    const PAGE: i64 = 5000;
    let mut prev = if from == 0 {
        ChainHash::GENESIS
    } else {
        match audit::hash_at(&ctx.db, from)
            .await?
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
        {
            Some(h) => ChainHash(h),
            None => return Ok(false),
        }
    };
    let mut after = from;
    while after < to {
        let page = audit::page(&ctx.db, after, PAGE).await?;
        if page.is_empty() {
            return Ok(false);
        }
        for e in page {
            if e.record.seq != after + 1 || e.prev_hash != prev.0 {
                return Ok(false);
            }
            let hash = e.record.chain_hash(&prev);
            if e.hash != hash.0 {
                return Ok(false);
            }
            prev = hash;
            after += 1;
            if after == to {
                break;
            }
        }
    }
    Ok(prev.0 == head_hash)
}

/// Signs the head every `period` (and once at start).
pub async fn anchor_every(ctx: Ctx, period: std::time::Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = anchor(&ctx).await {
            tracing::warn!(error = %e, "could not sign the audit chain's head");
        }
    }
}
