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
    open(ctx, entries).await
}

/// Entries as their readers see them: sealed personal values opened with their owners' keys,
/// or `"forgotten"` where the key was destroyed.
pub async fn open(ctx: &Ctx, entries: Vec<audit::StoredEntry>) -> Result<Vec<EntryView>> {
    use crate::domain::audit::{FORGOTTEN, open_side, seal_context, sealed_parts};
    let mut owners: Vec<String> = entries
        .iter()
        .flat_map(|e| {
            [&e.record.before, &e.record.after, &e.record.reason]
                .into_iter()
                .flatten()
                .filter(|t| t.contains(crate::domain::audit::SEALED))
                .flat_map(|t| sealed_owners(t))
                .collect::<Vec<_>>()
        })
        .collect();
    owners.sort();
    owners.dedup();
    let keys = if owners.is_empty() {
        Default::default()
    } else {
        crate::store::audit_keys::existing(&ctx.db, &owners).await?
    };
    let opener = |owner: &str, context: &str, ct: &str| -> Option<String> {
        let plain = keys.get(owner)?.open(context, ct)?;
        String::from_utf8(plain).ok()
    };
    Ok(entries
        .into_iter()
        .map(|e| {
            let seq = e.record.seq;
            let side = |s: Option<String>, name: &str| {
                s.and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .map(|mut v| {
                        open_side(&mut v, seq, name, &opener);
                        v
                    })
            };
            let reason = e.record.reason.map(|r| match sealed_parts(&r) {
                Some((owner, ct)) => opener(owner, &seal_context(owner, seq, "reason"), ct)
                    .unwrap_or_else(|| FORGOTTEN.to_owned()),
                None => r,
            });
            EntryView {
                seq,
                at: e.record.at,
                actor: e.record.actor,
                action: e.record.action,
                subject: e.record.subject,
                before: side(e.record.before, "before"),
                after: side(e.record.after, "after"),
                reason,
                hash: hex::encode(e.hash),
            }
        })
        .collect())
}

/// The owners named by sealed values in a stored field (a JSON object's values or a reason).
fn sealed_owners(text: &str) -> Vec<String> {
    use crate::domain::audit::sealed_parts;
    if let Some((o, _)) = sealed_parts(text) {
        return vec![o.to_owned()];
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(o)) => o
            .values()
            .filter_map(|v| v.as_str().and_then(sealed_parts).map(|(o, _)| o.to_owned()))
            .collect(),
        _ => Vec::new(),
    }
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
    crate::token::anchor::verify(bytes, |kid| crate::token::keys_with(&known, kid))
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
    // Old hashes a vouched reseal explains, looked up only if a signed head does not match.
    let mut legacy: Option<std::collections::HashMap<i64, Vec<u8>>> = None;
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
            let differs = expected
                .get(&seq)
                .is_some_and(|hs| hs.iter().any(|h| *h != hash.0));
            if differs && legacy.is_none() {
                let seqs: Vec<i64> = expected.keys().copied().collect();
                legacy = Some(vouched_legacy(ctx, &seqs).await?);
            }
            let old = legacy.as_ref().and_then(|l| l.get(&seq)).map(Vec::as_slice);
            if differs
                && expected
                    .get(&seq)
                    .is_some_and(|hs| hs.iter().any(|h| *h != hash.0 && old != Some(&h[..])))
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
        // Only a head that no longer matches asks whether a vouched reseal explains it.
        let explained = at.as_deref() != Some(&a.hash[..])
            && vouched_legacy(ctx, &[a.seq as i64])
                .await?
                .get(&(a.seq as i64))
                .is_some_and(|h| h[..] == a.hash[..]);
        if a.seq > 0 && at.as_deref() != Some(&a.hash[..]) && !explained {
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
    sign_head(ctx, seq, hash).await
}

/// Signs (seq, hash) as the chain's head, without checking: callers have.
async fn sign_head(ctx: &Ctx, seq: i64, hash: Vec<u8>) -> Result<Option<Anchor>> {
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

/// What [`reseal`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Resealed {
    /// Entries whose content or links changed.
    pub rewritten: i64,
    /// Personal values now sealed.
    pub sealed_values: i64,
    /// The chain's head before, as signed heads made until then name it.
    pub old_head_seq: i64,
    pub old_head_hash: String,
    /// The re-anchoring entry that says what was done.
    pub entry: i64,
}

/// Seals the personal values of a chain written before sealing existed (an upgrade): entries
/// are rewritten with their values sealed and their links recomputed, each old hash is kept
/// (`audit_legacy`), and an `audit.reseal` entry records the old head, so heads signed before
/// still prove what they signed. The new head is signed at once: that signature is what
/// vouches for the rewrite (a rewrite nobody signed is an attack, and verification says so).
/// Runs once, under the chain's lock; other servers starting at the same time wait and find
/// it done.
pub async fn reseal(ctx: &Ctx) -> Result<Option<Resealed>> {
    const PAGE: i64 = 2000;
    let now = ctx.now();
    if crate::store::meta::read(&ctx.db, "audit_sealed")
        .await?
        .as_deref()
        != Some("0")
    {
        return Ok(None);
    }
    // Heads signed before must hold over the chain as it is: a reseal never launders a
    // rewrite that happened before it.
    let mut signed: Vec<Anchor> = newest_trusted(ctx)
        .await?
        .map(|(a, _)| a)
        .into_iter()
        .collect();
    signed.extend(ctx.anchors.last());
    let before = verify_chain(ctx, &signed).await?;
    if !before.ok {
        return Err(crate::store::StoreError::Corrupt(format!(
            "the audit chain does not verify ({:?}); it is not resealed",
            before.first_broken.map(|b| (b.seq, b.problem))
        ))
        .into());
    }
    let mut tx = ctx.db.begin().await?;
    audit::lock_chain(&mut tx).await?;
    if crate::store::meta::get(&mut tx, "audit_sealed")
        .await?
        .as_deref()
        != Some("0")
    {
        tx.rollback().await?;
        return Ok(None);
    }
    audit::reseal_mode(&mut tx, true).await?;
    let (mut old_prev, mut new_prev) = (ChainHash::GENESIS, ChainHash::GENESIS);
    let (mut after, mut rewritten, mut sealed_values) = (0_i64, 0_i64, 0_i64);
    loop {
        let page = audit::page_tx(&mut tx, after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        let mut records: Vec<_> = page.iter().map(|e| e.record.clone()).collect();
        let owners: Vec<String> = records
            .iter()
            .map(|r| {
                r.subject
                    .clone()
                    .filter(|s| s.starts_with("resident:"))
                    .unwrap_or_else(|| crate::domain::audit::season_owner(r.at))
            })
            .collect();
        sealed_values += records
            .iter()
            .zip(&owners)
            .map(|(r, o)| crate::domain::audit::personal_fields(r, o).len() as i64)
            .sum::<i64>();
        audit::seal_as(&mut tx, &mut records, &owners, now).await?;
        let mut rows = Vec::new();
        for (e, r) in page.iter().zip(records) {
            if e.prev_hash != old_prev.0 || e.record.chain_hash(&old_prev).0[..] != e.hash[..] {
                tx.rollback().await?;
                return Err(crate::store::StoreError::Corrupt(format!(
                    "audit entry {} does not link; the chain must verify before it is resealed",
                    e.record.seq
                ))
                .into());
            }
            old_prev = ChainHash::from_slice(&e.hash).unwrap_or(ChainHash::GENESIS);
            let hash = r.chain_hash(&new_prev);
            if hash != old_prev {
                rows.push((r, new_prev, hash, e.hash.clone()));
            }
            new_prev = hash;
            after = e.record.seq;
        }
        rewritten += rows.len() as i64;
        audit::rewrite(&mut tx, &rows).await?;
    }
    audit::reseal_mode(&mut tx, false).await?;
    crate::store::meta::set(&mut tx, "audit_sealed", "1").await?;
    if rewritten == 0 {
        tx.commit().await?;
        return Ok(None);
    }
    audit::set_head_hash(&mut tx, &new_prev).await?;
    let entry = audit::append(
        &mut tx,
        &crate::domain::AuditDraft::new("system", "audit.reseal").after(serde_json::json!({
            "old_head": {"seq": after, "hash": old_prev.to_hex()},
            "new_hash_at_old_head": new_prev.to_hex(),
            "rewritten": rewritten,
            "sealed_values": sealed_values,
        })),
        now,
    )
    .await?;
    let (head_seq, head_hash) = audit::head_tx(&mut tx).await?;
    tx.commit().await?;
    // This signature vouches for the reseal (see `vouched_legacy`); no other server appended
    // in between, as the chain was locked until the commit, and the entry is the head.
    if sign_head(ctx, head_seq, head_hash).await?.is_none() {
        tracing::warn!("no signing key: the resealed chain's head is not signed");
    }
    tracing::info!(rewritten, sealed_values, "audit chain resealed");
    Ok(Some(Resealed {
        rewritten,
        sealed_values,
        old_head_seq: after,
        old_head_hash: old_prev.to_hex(),
        entry: entry.seq,
    }))
}

/// Old hashes a signed head may name instead of the current ones: those of entries a reseal
/// rewrote, and only where a head signed at the reseal entry itself vouches for that reseal.
async fn vouched_legacy(
    ctx: &Ctx,
    seqs: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<u8>>> {
    let mut out = std::collections::HashMap::new();
    let mut covered = 0_i64;
    for (seq, after) in audit::reseals(&ctx.db).await? {
        let signed = match audit::anchor_at(&ctx.db, seq).await? {
            Some(bytes) => read_anchor(ctx, &bytes)
                .ok()
                .filter(|a| a.seq as i64 == seq),
            None => None,
        };
        let vouched = match signed {
            Some(a) => audit::hash_at(&ctx.db, seq).await?.as_deref() == Some(&a.hash[..]),
            None => false,
        };
        let old: i64 = after
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|v| v["old_head"]["seq"].as_i64())
            .unwrap_or(0);
        if vouched {
            covered = covered.max(old);
        }
    }
    for &s in seqs {
        if s <= covered
            && let Some(h) = audit::legacy_hash(&ctx.db, s).await?
        {
            out.insert(s, h);
        }
    }
    Ok(out)
}
