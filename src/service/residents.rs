//! Residents: registration (with dependents), profile reads, fact changes by officials.

use super::idempotency::Once;
use super::status_slots;
use super::tokens::BearerToken;
use super::zones::Placed;
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::resident::pack_facts;
use crate::domain::resident::{ResidentForm, ResidentPatchForm};
use crate::domain::{
    AuditDraft, Colour, Flag, Invalid, Location, Need, NewResident, ResidentId, ResidentPatch,
};
use crate::keys::IdHashKey;
use crate::rules::Reason;
use crate::store::{self, audit, residents, users};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

pub const MAX_DEPENDENTS: usize = 20;

/// The keyed hash of an identity document: the only form in which its number is stored.
pub fn id_hash(key: &IdHashKey, r: &NewResident) -> [u8; 32] {
    super::reclaim::document_hash(key, &r.document)
}

/// Builds the row for a parsed resident; the status slot is drawn at insert time.
pub fn row(
    key: &IdHashKey,
    r: &NewResident,
    head_id: Option<i64>,
    source: &'static str,
    now: DateTime<Utc>,
) -> residents::ResidentRow {
    let public_id = ResidentId::random().0;
    residents::ResidentRow {
        public_id,
        // Keyed and unique per record, so a claim's unique column says nothing about anyone.
        claim_hash: super::reclaim::record_hash(key, public_id),
        status_index: 0,
        head_id,
        name: r.name.as_str().to_owned(),
        id_type: r.document.kind().as_str(),
        doc_hash: id_hash(key, r),
        id_last4: r.document.last4().to_owned(),
        phone: r.phone.as_ref().map(|p| p.as_str().to_owned()),
        address: r.address.clone(),
        lat: r.location.map(|l| l.lat),
        lon: r.location.map(|l| l.lon),
        birth_year: r.birth_year.map(|b| b.get()),
        needs: r.needs.clone(),
        source,
        now,
    }
}

/// The audit trail's word for a registration's standing (officials' eyes only).
fn held(s: status_slots::Stored) -> &'static str {
    if s.claim { "claimed" } else { "held" }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registered {
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: ResidentId,
    /// Shown once: the resident's bearer token.
    pub access_token: String,
    #[schema(value_type = Vec<String>)]
    pub dependents: Vec<ResidentId>,
}

/// What an idempotent registration stores: the ids, never the token (it is re-derived).
#[derive(Serialize, Deserialize)]
struct StoredRegistration {
    resident_id: ResidentId,
    dependents: Vec<ResidentId>,
}

pub fn parse_idempotency_key(raw: &str) -> Result<String, Invalid> {
    let ok = (1..=200).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::new(
            "Idempotency-Key",
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        ))
    }
}

fn token_for(ctx: &Ctx, idempotency_key: Option<&str>, resident: ResidentId) -> BearerToken {
    match idempotency_key {
        // Derived, not stored: a replay hands back the same token without it ever resting
        // in the database in the clear.
        Some(k) => BearerToken::from_bytes(
            ctx.id_key
                .mac("registration-token", format!("{k}\0{resident}").as_bytes()),
        ),
        None => BearerToken::random(),
    }
}

/// Self-registration, optionally with dependents, applied once per idempotency key.
pub async fn register(
    ctx: &Ctx,
    form: &ResidentForm,
    idempotency_key: Option<&str>,
) -> Result<Registered> {
    let now = ctx.now();
    let year = now.year();
    let mut head = NewResident::parse(form, year)?;
    let language =
        crate::domain::message::Language::parse(form.language.as_deref().unwrap_or("zh"))?;
    if form.dependents.len() > MAX_DEPENDENTS {
        return Err(Invalid::new(
            "dependents",
            "too_many_dependents",
            format!("at most {MAX_DEPENDENTS} dependents"),
        )
        .into());
    }
    let mut deps = Vec::with_capacity(form.dependents.len());
    for (i, d) in form.dependents.iter().enumerate() {
        let prefix = format!("dependents[{i}]");
        if !d.dependents.is_empty() {
            return Err(Invalid::new(
                "dependents",
                "nested_dependents",
                "a dependent cannot have dependents",
            )
            .within(&prefix)
            .into());
        }
        let mut dep = NewResident::parse(d, year).map_err(|e| e.within(&prefix))?;
        dep.inherit_from(&head);
        deps.push(dep);
    }
    head.needs.sort();
    // Within one form a repeated document is a typing mistake the caller can see for
    // themselves; it says nothing about anyone else's registration.
    let mut documents = std::collections::HashSet::new();
    for (i, r) in std::iter::once(&head).chain(deps.iter()).enumerate() {
        if !documents.insert(r.document.hash_input()) {
            return Err(Invalid::new(
                "id_number",
                "repeated_document",
                "the same identity document appears twice in this registration",
            )
            .within(&format!("dependents[{}]", i - 1))
            .into());
        }
    }

    let mut tx = ctx.db.begin().await?;
    // Keyed (the form holds an ID number): see `idempotency::request_hash`.
    let form_bytes = serde_json::to_vec(form).map_err(ServiceError::internal)?;
    let ticket = match super::idempotency::begin::<StoredRegistration>(
        &ctx.id_key,
        &mut tx,
        "register",
        idempotency_key,
        &[&form_bytes],
        now,
    )
    .await?
    {
        Once::Replay(stored) => {
            return Ok(Registered {
                access_token: token_for(ctx, idempotency_key, stored.resident_id).into_string(),
                resident_id: stored.resident_id,
                dependents: stored.dependents,
            });
        }
        Once::Go(ticket) => ticket,
    };

    // A document already held is stored all the same, as a claim, and answered alike: the
    // answer tells a stranger nothing, and a squatter who came first does not lock the real
    // person out (officials settle claims with the ID card in hand: `super::reclaim`).
    let mut head_row = row(&ctx.id_key, &head, None, "self", now);
    let head_stored =
        status_slots::insert_on_random_slot(&mut tx, &mut head_row, head.location).await?;
    let head_id = head_stored.id;
    let resident_id = ResidentId(head_row.public_id);
    let mut located: Vec<Placed> = head
        .location
        .map(|location| Placed {
            id: head_id,
            location,
            facts: pack_facts(&head.needs, &[]),
        })
        .into_iter()
        .collect();
    let mut trail = vec![AuditDraft::new(format!("resident:{resident_id}"), "resident.register")
        .subject(format!("resident:{resident_id}"))
        .after(json!({"dependents": deps.len(), "needs": head.needs, "located": head.location.is_some(), "document": held(head_stored)}))];
    let mut dependents = Vec::with_capacity(deps.len());
    let mut dependents_internal = Vec::with_capacity(deps.len());
    for d in &deps {
        let mut r = row(&ctx.id_key, d, Some(head_id), "self", now);
        let dep_stored =
            status_slots::insert_on_random_slot(&mut tx, &mut r, d.location.or(head.location))
                .await?;
        let dep_internal = dep_stored.id;
        dependents_internal.push(dep_internal);
        if let Some(l) = d.location {
            located.push(Placed {
                id: dep_internal,
                location: l,
                facts: pack_facts(&d.needs, &[]),
            });
        }
        let dep_id = ResidentId(r.public_id);
        trail.push(
            AuditDraft::new(format!("resident:{resident_id}"), "resident.register")
                .subject(format!("resident:{dep_id}"))
                .after(
                    json!({"head": resident_id, "needs": d.needs, "located": d.location.is_some(), "document": held(dep_stored)}),
                ),
        );
        dependents.push(dep_id);
    }
    if language != crate::domain::message::Language::Zh {
        let mut household = vec![head_id];
        household.extend(dependents_internal.iter().copied());
        crate::store::channels::set_language(&mut tx, &household, language.as_str()).await?;
    }
    let token = token_for(ctx, idempotency_key, resident_id);
    users::insert_token(
        &mut tx,
        &token.hash(),
        users::TokenOwner::Resident(head_id),
        now,
    )
    .await?;
    let stored = StoredRegistration {
        resident_id,
        dependents: dependents.clone(),
    };
    ticket.complete(&mut tx, 201, &stored).await?;
    // Last, just before the commit: appending locks the chain's head until the commit, and
    // every writer on every server queues on it.
    for draft in &trail {
        audit::append(&mut tx, draft, now).await?;
    }
    // With the chain's lock held: a zone being drawn now either sees these residents or is
    // seen by them.
    super::zones::place(&mut tx, &located).await?;
    tx.commit().await?;
    Ok(Registered {
        resident_id,
        access_token: token.into_string(),
        dependents,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdMember {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub needs: Vec<Need>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Household {
    #[schema(value_type = Option<String>, format = Uuid)]
    pub head: Option<Uuid>,
    pub dependents: Vec<HouseholdMember>,
}

/// A resident's profile as they and officials see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResidentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
    pub id_type: String,
    /// Last four characters of the identity document, for the check against the card.
    pub id_last4: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub location: Option<Location>,
    pub birth_year: Option<i32>,
    pub needs: Vec<Need>,
    pub flags: Vec<Flag>,
    pub household: Household,
    /// The colour now, computed from the facts by the active rule set.
    pub colour: Colour,
    /// Why: every matching rule, or the override that decides alone.
    pub reasons: Vec<Reason>,
    /// The zones the resident is in.
    pub zones: Vec<ZoneRef>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneRef {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub name: String,
}

/// A resident as `p` may see them: an official with a district sees the household members
/// who live inside it.
async fn view(ctx: &Ctx, p: &Principal, r: residents::ResidentRecord) -> Result<ResidentView> {
    let verdict = super::colour::verdict_of(ctx, r.id)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    let zones = crate::store::zones::zones_of(&ctx.db, r.id)
        .await?
        .into_iter()
        .map(|(id, name)| ZoneRef { id, name })
        .collect();
    let dependents = residents::dependents(&ctx.db, r.id)
        .await?
        .into_iter()
        .filter(|d| authz::sees(p, Location::from_columns(d.lat, d.lon)))
        .map(|d| HouseholdMember {
            id: d.public_id,
            name: d.name,
            needs: d.needs.0,
        })
        .collect();
    Ok(ResidentView {
        id: r.public_id,
        name: r.name,
        id_type: r.id_type,
        id_last4: r.id_last4,
        phone: r.phone,
        address: r.address,
        location: Location::from_columns(r.lat, r.lon),
        birth_year: r.birth_year,
        needs: r.needs.0,
        flags: r.flags.0,
        household: Household {
            head: r.head_public_id,
            dependents,
        },
        colour: verdict.colour,
        reasons: verdict.reasons,
        zones,
        registered_at: r.created_at,
        updated_at: r.updated_at,
    })
}

pub async fn me(ctx: &Ctx, p: &Principal) -> Result<ResidentView> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    view(ctx, p, r).await
}

pub async fn get(ctx: &Ctx, p: &Principal, id: ResidentId) -> Result<ResidentView> {
    let r = read_one(ctx, p, id, "resident.read").await?;
    view(ctx, p, r).await
}

/// One resident's record as an official reads it: within their district, and audited as
/// `action`, since who looked at a person's record is theirs to know (their trail shows a role
/// and a time).
pub(super) async fn read_one(
    ctx: &Ctx,
    p: &Principal,
    id: ResidentId,
    action: &'static str,
) -> Result<residents::ResidentRecord> {
    authz::authorize(p, Action::ReadResident)?;
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let mut tx = ctx.db.begin().await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), action).subject(format!("resident:{id}")),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

/// What an official's change of a resident's facts did: applied at once (the colour stays
/// or gets milder), or waits for a second official (it would make the colour worse).
#[derive(Debug, Clone)]
pub enum Patched {
    Applied(Box<ResidentView>),
    Pending(Box<super::approvals::ApprovalView>),
}

/// An official changes a resident's facts. Everything the rules read is changed inside one
/// transaction and the colour compared before and after: a change that makes it worse is
/// rolled back and becomes a request a second official must approve (DESIGN.md,
/// Safeguards: no single account makes anyone's colour worse except through a public zone
/// order). Whatever the rules come to read, the comparison covers it.
pub async fn patch(
    ctx: &Ctx,
    p: &Principal,
    id: ResidentId,
    form: &ResidentPatchForm,
) -> Result<Patched> {
    authz::authorize(p, Action::UpdateResident)?;
    let patch = ResidentPatch::parse(form)?;
    let rules = super::colour::active_rules(ctx).await?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let r = residents::by_public_id_tx(&mut tx, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    if let Some(new) = patch.location {
        authz::ensure_resident_in_jurisdiction(p, new)?;
    }
    let before = super::colour::facts_in_tx(&mut tx, r.id, now).await?;
    apply(&mut tx, p, &r, &patch, json!({}), now).await?;
    let after = super::colour::facts_in_tx(&mut tx, r.id, now).await?;
    if rules.worsens(&before, &after) {
        tx.rollback().await?;
        let mut tx = ctx.db.begin().await?;
        let (was, will) = (
            rules.evaluate(&before).colour,
            rules.evaluate(&after).colour,
        );
        let show = json!({
            "colour_before": was,
            "colour_after": will,
            // Worse today, or only once an order, a stay or an override changes.
            "worse": if will > was { "now" } else { "in_other_situations" },
            "facts": change_summary(&r, &patch).1,
        });
        let apply = serde_json::to_value(super::approvals::FactChange::Patch {
            form: form.clone(),
            updated_at: r.updated_at,
        })
        .map_err(ServiceError::internal)?;
        let reason = patch
            .reason
            .clone()
            .unwrap_or_else(|| "a change of facts that makes the colour worse".into());
        let approval = super::approvals::request_for_resident(
            &mut tx,
            p,
            super::approvals::ResidentRequest {
                kind: super::approvals::kind::FACTS,
                resident: (r.id, r.public_id),
                colour: Some(rules.evaluate(&after).colour),
                reason_code: "facts_change",
                reason_text: &reason,
                payload: super::approvals::Payload { show, apply },
            },
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(Patched::Pending(Box::new(
            super::approvals::get(ctx, approval).await?,
        )));
    }
    tx.commit().await?;
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    Ok(Patched::Applied(Box::new(view(ctx, p, r).await?)))
}

/// Applies a fact change a second official approved, inside the decision's transaction:
/// only to the record they were shown (a later change makes the request stale).
pub async fn apply_approved(
    tx: &mut store::Tx,
    p: &Principal,
    resident: i64,
    form: &ResidentPatchForm,
    seen: DateTime<Utc>,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let patch = ResidentPatch::parse(form)?;
    let r = residents::by_id_tx(tx, resident)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    if r.updated_at != seen {
        return Err(super::approvals::stale());
    }
    apply(tx, p, &r, &patch, approved, now).await
}

/// The audit's before/after of a change: colour-moving facts in full, contact details only
/// as "changed".
fn change_summary(
    r: &residents::ResidentRecord,
    patch: &ResidentPatch,
) -> (serde_json::Value, serde_json::Value) {
    let old_location = Location::from_columns(r.lat, r.lon);
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    if let Some(needs) = &patch.needs
        && *needs != r.needs.0
    {
        before.insert("needs".into(), json!(r.needs.0));
        after.insert("needs".into(), json!(needs));
    }
    if let Some(flags) = &patch.flags
        && *flags != r.flags.0
    {
        before.insert("flags".into(), json!(r.flags.0));
        after.insert("flags".into(), json!(flags));
    }
    if let Some(location) = patch.location
        && location != old_location
    {
        before.insert("location".into(), json!(old_location));
        after.insert("location".into(), json!(location));
    }
    if patch.address.as_ref().is_some_and(|a| *a != r.address) {
        after.insert("address".into(), json!("changed"));
    }
    if patch
        .phone
        .as_ref()
        .is_some_and(|p| p.as_ref().map(|p| p.as_str()) != r.phone.as_deref())
    {
        after.insert("phone".into(), json!("changed"));
    }
    (
        serde_json::Value::Object(before),
        serde_json::Value::Object(after),
    )
}

/// Writes a change of facts with its audit entry and the resident's zone memberships.
async fn apply(
    tx: &mut store::Tx,
    p: &Principal,
    r: &residents::ResidentRecord,
    patch: &ResidentPatch,
    approved: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let old_location = Location::from_columns(r.lat, r.lon);
    let needs = patch.needs.clone().unwrap_or_else(|| r.needs.0.clone());
    let flags = patch.flags.clone().unwrap_or_else(|| r.flags.0.clone());
    let location = patch.location.unwrap_or(old_location);
    let address = patch.address.clone().unwrap_or_else(|| r.address.clone());
    let phone = match &patch.phone {
        Some(p) => p.as_ref().map(|p| p.as_str().to_owned()),
        None => r.phone.clone(),
    };
    residents::update_facts(
        tx,
        r.id,
        &residents::Facts {
            needs: &needs,
            flags: &flags,
            lat: location.map(|l| l.lat),
            lon: location.map(|l| l.lon),
            address: address.as_deref(),
            phone: phone.as_deref(),
        },
        now,
    )
    .await?;
    let (before, mut after) = change_summary(r, patch);
    if let (Some(a), Some(o)) = (after.as_object_mut(), approved.as_object()) {
        a.extend(o.clone());
    }
    let mut draft = AuditDraft::new(p.actor(), "resident.update")
        .subject(format!("resident:{}", r.public_id))
        .before(before)
        .after(after);
    if let Some(reason) = patch.reason.clone() {
        draft = draft.reason(reason);
    }
    audit::append(tx, &draft, now).await?;
    if location != old_location {
        super::zones::replace(tx, r.id, location, pack_facts(&needs, &flags)).await?;
    } else if needs != r.needs.0 || flags != r.flags.0 {
        crate::store::zones::set_member_facts(tx, r.id, pack_facts(&needs, &flags)).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageForm {
    /// `zh` or `en`.
    pub language: String,
}

/// The language alerts reach me (and my household) in (residents).
pub async fn set_my_language(ctx: &Ctx, p: &Principal, f: &LanguageForm) -> Result<LanguageForm> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { internal, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let language = crate::domain::message::Language::parse(&f.language)?;
    let mut tx = ctx.db.begin().await?;
    crate::store::channels::set_household_language(&mut tx, *internal, language.as_str()).await?;
    tx.commit().await?;
    Ok(LanguageForm {
        language: language.as_str().to_owned(),
    })
}

/// What residents may correct themselves (PIPL art. 46): name, phone, address and needs.
/// `null` clears the phone or address; an absent field is left alone.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionForm {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::resident::present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::resident::present")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    pub needs: Option<Vec<String>>,
}

/// A resident corrects their own details (audited like an official's change). A change that
/// would make their colour stricter is not theirs alone to make (the approval rule): it is
/// refused, nothing changes, and an official records it with a second official's approval.
pub async fn correct_mine(ctx: &Ctx, p: &Principal, form: &CorrectionForm) -> Result<ResidentView> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id, .. } = p else {
        return Err(ServiceError::Forbidden);
    };
    let name = form
        .name
        .as_deref()
        .map(crate::domain::ResidentName::parse)
        .transpose()?;
    let patch = ResidentPatch::parse(&ResidentPatchForm {
        needs: form.needs.clone(),
        address: form.address.clone(),
        phone: form.phone.clone(),
        reason: Some("corrected by the resident".into()),
        ..Default::default()
    })?;
    let rules = super::colour::active_rules(ctx).await?;
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let before = super::colour::facts_in_tx(&mut tx, r.id, now).await?;
    apply(&mut tx, p, &r, &patch, json!({}), now).await?;
    let after = super::colour::facts_in_tx(&mut tx, r.id, now).await?;
    if rules.worsens(&before, &after) {
        tx.rollback().await?;
        return Err(ServiceError::Conflict {
            code: "needs_an_official",
            detail: "this change would make your colour stricter, which an official records \
                     with a second official's approval; nothing was changed"
                .into(),
        });
    }
    if let Some(n) = &name {
        residents::set_name(&mut tx, r.id, n.as_str(), now).await?;
        audit::append(
            &mut tx,
            &AuditDraft::new(p.actor(), "resident.update")
                .subject(format!("resident:{id}"))
                .after(json!({"name": "changed"}))
                .reason("corrected by the resident"),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    me(ctx, p).await
}
