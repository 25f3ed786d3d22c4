//! Who holds an identity document. Registration never says whether a document is known (a
//! second registration is stored as a claim beside the first: see `super::residents`), so
//! settling who is who falls to officials, with the ID card in hand: they find the records
//! that name a document, take one back for the person in front of them (every old access
//! token revoked, a new one handed over), and a second official retires the others.

use super::approvals::{self, ApprovalView, Payload, ResidentRequest};
use super::idempotency::Once;
use super::tokens::BearerToken;
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::document::{IdDocument, IdType};
use crate::domain::{AuditDraft, Invalid, Location, ResidentId};
use crate::keys::IdHashKey;
use crate::store::{self, audit, residents, users};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

/// At most this many disputed documents in one list.
const DISPUTES_LIMIT: i64 = 200;

/// The keyed hash of an identity document: the only form in which its number is stored.
pub fn document_hash(key: &IdHashKey, d: &IdDocument) -> [u8; 32] {
    key.mac("id-number", d.hash_input().as_bytes())
}

/// A record's unique column when it does not hold its document (a claim, or retired):
/// keyed and unique per record, so it says nothing about anyone.
pub fn record_hash(key: &IdHashKey, public_id: Uuid) -> [u8; 32] {
    key.mac("claim-record", public_id.as_bytes())
}

/// An identity document as an official reads it off the card.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentForm {
    #[serde(default)]
    pub id_type: Option<IdType>,
    pub id_number: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentRecord {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `primary` (holds the document), or `claim` (registered while another record held it).
    pub standing: String,
    /// `self` or `import`.
    pub source: String,
    pub registered_at: DateTime<Utc>,
    /// Whether the record gave a phone number (which is not shown here).
    pub has_phone: bool,
    /// Whether it lies in the caller's jurisdiction (only those can be opened or taken back).
    pub in_jurisdiction: bool,
}

/// The live records that name one identity document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentRecords {
    pub id_type: String,
    pub id_last4: String,
    pub records: Vec<DocumentRecord>,
}

fn record(p: &Principal, h: &residents::Holder) -> DocumentRecord {
    DocumentRecord {
        id: h.public_id,
        standing: h.standing.clone(),
        source: h.source.clone(),
        registered_at: h.created_at,
        has_phone: h.has_phone,
        in_jurisdiction: authz::sees(p, Location::from_columns(h.lat, h.lon)),
    }
}

/// The records that name a document (officials; the search is audited, the number is not).
pub async fn lookup(ctx: &Ctx, p: &Principal, form: &DocumentForm) -> Result<DocumentRecords> {
    authz::authorize(p, Action::ReadResident)?;
    let kind = form.id_type.unwrap_or_default();
    let doc = IdDocument::parse(kind, &form.id_number)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let holders = residents::holders_of(&mut tx, &document_hash(&ctx.id_key, &doc)).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "resident.lookup")
            .after(json!({"id_type": kind.as_str(), "records": holders.len()})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(DocumentRecords {
        id_type: kind.as_str().to_owned(),
        id_last4: doc.last4().to_owned(),
        records: holders.iter().map(|h| record(p, h)).collect(),
    })
}

/// Documents that more than one live record names, for officials to settle: those with a
/// record in the caller's jurisdiction.
pub async fn disputes(ctx: &Ctx, p: &Principal) -> Result<Vec<DocumentRecords>> {
    authz::authorize(p, Action::ReadResident)?;
    let mut out: Vec<(Vec<u8>, DocumentRecords)> = Vec::new();
    for h in residents::disputed(&ctx.db, DISPUTES_LIMIT).await? {
        let r = record(p, &h);
        match out.last_mut() {
            Some((doc, group)) if *doc == h.doc_hash => group.records.push(r),
            _ => out.push((
                h.doc_hash.clone(),
                DocumentRecords {
                    id_type: h.id_type.clone(),
                    id_last4: h.id_last4.clone(),
                    records: vec![r],
                },
            )),
        }
    }
    Ok(out
        .into_iter()
        .map(|(_, g)| g)
        .filter(|g| g.records.iter().any(|r| r.in_jurisdiction))
        .collect())
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReclaimForm {
    /// The official saw the person's ID card and it matches this record's document.
    pub id_card_checked: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reclaimed {
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: ResidentId,
    /// Shown once: the person's new bearer token. Every earlier one is revoked.
    pub access_token: String,
    /// The resident page with the token in its fragment (never sent to a server): shown as
    /// a QR code for the person's phone camera.
    pub sign_in_url: String,
    /// That link as a QR code (SVG).
    pub sign_in_svg: String,
    pub revoked_tokens: u64,
    /// The other live records naming the same document.
    #[schema(value_type = Vec<String>)]
    pub other_records: Vec<Uuid>,
    /// The request, waiting for a second official, to retire those other records.
    pub approval: Option<ApprovalView>,
}

/// What an idempotent take-back stores: everything but the token (re-derived from the key).
#[derive(Serialize, Deserialize)]
struct StoredReclaim {
    revoked_tokens: u64,
    other_records: Vec<Uuid>,
    approval: Option<Uuid>,
}

/// The change a `duplicates` request applies when approved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetireOthers {
    pub keep: Uuid,
    /// Exactly the records retired: if the set has changed since, the request is stale.
    pub retire: BTreeSet<Uuid>,
}

/// Hands a record back to the person an official has identified by their ID card: revokes
/// every access token the record had, issues a new one, and (when other records name the
/// same document) asks a second official to retire them. Audited.
pub async fn reclaim(
    ctx: &Ctx,
    p: &Principal,
    id: ResidentId,
    form: &ReclaimForm,
    idempotency_key: Option<&str>,
    origin: &str,
) -> Result<Reclaimed> {
    authz::authorize(p, Action::UpdateResident)?;
    if !form.id_card_checked {
        return Err(Invalid::new(
            "id_card_checked",
            "id_card_not_checked",
            "take a record back only after checking the person's ID card against it",
        )
        .into());
    }
    let reason = crate::domain::resident::optional_reason(form.reason.as_deref(), 500)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let r = residents::by_public_id_tx(&mut tx, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let token_for = |key: &str| {
        BearerToken::from_bytes(
            ctx.id_key
                .mac("reclaim-token", format!("{key}\0{id}").as_bytes()),
        )
    };
    let body = serde_json::to_vec(form).map_err(ServiceError::internal)?;
    let ticket = match super::idempotency::begin::<StoredReclaim>(
        &ctx.id_key,
        &mut tx,
        "reclaim",
        idempotency_key,
        &[id.0.as_bytes(), &body],
        now,
    )
    .await?
    {
        Once::Replay(stored) => {
            let approval = match stored.approval {
                Some(a) => Some(approvals::get(ctx, a).await?),
                None => None,
            };
            // A replay comes only with the key the token is derived from.
            let key = idempotency_key.unwrap_or_default();
            return answer(
                id,
                token_for(key),
                stored.revoked_tokens,
                stored.other_records,
                approval,
                origin,
            );
        }
        Once::Go(ticket) => ticket,
    };

    let revoked = users::revoke_resident_tokens(&mut tx, r.id, now).await?;
    let token = match idempotency_key {
        Some(key) => token_for(key),
        None => BearerToken::random(),
    };
    users::insert_token(
        &mut tx,
        &token.hash(),
        users::TokenOwner::Resident(r.id),
        now,
    )
    .await?;
    let others: BTreeSet<Uuid> = residents::others_naming_document_of(&mut tx, r.id)
        .await?
        .into_iter()
        .map(|h| h.public_id)
        .collect();
    let approval = if others.is_empty() {
        None
    } else {
        let change = RetireOthers {
            keep: r.public_id,
            retire: others.clone(),
        };
        let apply = serde_json::to_value(&change).map_err(ServiceError::internal)?;
        Some(
            approvals::request_for_resident(
                &mut tx,
                p,
                ResidentRequest {
                    kind: approvals::kind::DUPLICATES,
                    resident: (r.id, r.public_id),
                    colour: None,
                    reason_code: "duplicate_document",
                    reason_text: reason.as_deref().unwrap_or(""),
                    payload: Payload {
                        show: json!({"keep": r.public_id, "retire": others, "id_last4": r.id_last4}),
                        apply,
                    },
                },
                now,
            )
            .await?,
        )
    };
    let other_records: Vec<Uuid> = others.into_iter().collect();
    let stored = StoredReclaim {
        revoked_tokens: revoked,
        other_records: other_records.clone(),
        approval,
    };
    ticket.complete(&mut tx, 200, &stored).await?;
    let mut draft = AuditDraft::new(p.actor(), "resident.reclaim")
        .subject(format!("resident:{id}"))
        .after(json!({"id_card_checked": true, "revoked_tokens": revoked, "other_records": other_records.len(), "approval": approval}));
    if let Some(reason) = &reason {
        draft = draft.reason(reason.clone());
    }
    audit::append(&mut tx, &draft, now).await?;
    tx.commit().await?;
    // A revoked token must not live on in this server's cache of who holds what.
    ctx.principals.clear();
    let approval = match approval {
        Some(a) => Some(approvals::get(ctx, a).await?),
        None => None,
    };
    answer(id, token, revoked, other_records, approval, origin)
}

fn answer(
    id: ResidentId,
    token: BearerToken,
    revoked_tokens: u64,
    other_records: Vec<Uuid>,
    approval: Option<ApprovalView>,
    origin: &str,
) -> Result<Reclaimed> {
    let token = token.into_string();
    let sign_in_url = format!("{}/#access={token}", origin.trim_end_matches('/'));
    let sign_in_svg = crate::qr::svg(&sign_in_url).map_err(ServiceError::internal)?;
    Ok(Reclaimed {
        resident_id: id,
        access_token: token,
        sign_in_url,
        sign_in_svg,
        revoked_tokens,
        other_records,
        approval,
    })
}

/// Carries out an approved `duplicates` request inside the decision's transaction: the kept
/// record holds the document, the others are retired (anonymised, tokens revoked, codes
/// revoked in the next status list, household members detached).
pub async fn apply_retire(
    tx: &mut store::Tx,
    secret: &IdHashKey,
    p: &Principal,
    change: &RetireOthers,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let keep = residents::by_public_id_tx(tx, change.keep)
        .await?
        .ok_or_else(approvals::stale)?;
    let others = residents::others_naming_document_of(tx, keep.id).await?;
    let now_ids: BTreeSet<Uuid> = others.iter().map(|h| h.public_id).collect();
    if now_ids != change.retire {
        return Err(approvals::stale());
    }
    for h in &others {
        if residents::has_open_stay(tx, h.id).await? {
            return Err(ServiceError::Conflict {
                code: "open_stay",
                detail: "a record to retire is checked in at a shelter: check it out first".into(),
            });
        }
        let tokens = users::revoke_resident_tokens(tx, h.id, now).await?;
        let detached = residents::retire(tx, h.id, &record_hash(secret, h.public_id), now).await?;
        audit::append(
            tx,
            &AuditDraft::new(p.actor(), "resident.retire")
                .subject(format!("resident:{}", h.public_id))
                .before(json!({"standing": h.standing}))
                .after(json!({"standing": "retired", "kept": change.keep, "revoked_tokens": tokens, "dependents_detached": detached, "approved": approved})),
            now,
        )
        .await?;
    }
    residents::promote(tx, keep.id, now).await?;
    Ok(())
}
