//! Issuing signed codes and verifying them online.

use super::colour::{active_rules, verdict_of};
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::resident::display_text;
use crate::domain::{Colour, Location, Need, ResidentId};
use crate::rules::Reason;
use crate::store::facts as facts_store;
use crate::store::residents::{self, ResidentRecord};
use crate::token::{self, Claims, TokenError};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;

/// A phone code lives a day (a fresh one is issued whenever it is fetched); a printed code
/// lives for the season, its colour always taken from the current status, never the paper.
pub const PHONE_LIFETIME: Duration = Duration::hours(24);
pub const ISSUER: &str = "safecode";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Issued {
    pub token: String,
    pub colour: Colour,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub kid: String,
    /// The masked name and last four ID characters the code shows.
    pub display: String,
}

/// Signs a code for one resident, valid for `lifetime`, with their colour now.
pub async fn issue_for(ctx: &Ctx, r: &ResidentRecord, lifetime: Duration) -> Result<Issued> {
    let verdict = verdict_of(ctx, r.id)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    let rules = active_rules(ctx).await?;
    let key = ctx
        .keys
        .signer()
        .ok_or_else(|| ServiceError::internal("no active signing key"))?;
    let now = ctx.now();
    let mut cti = [0u8; 8];
    rand::rng().fill_bytes(&mut cti);
    let display = display_text(&r.name, &r.id_last4);
    let slot = crate::domain::ListSlot::from_stored(r.status_index)
        .ok_or_else(|| crate::store::StoreError::Corrupt("a status index no list has".into()))?;
    let claims = Claims {
        issuer: ISSUER.into(),
        subject: r.public_id.to_string(),
        issued_at: now.timestamp(),
        expires_at: (now + lifetime).timestamp(),
        token_id: cti,
        colour: verdict.colour,
        status_index: slot.index,
        district: slot.district,
        rules_version: u32::try_from(rules.version).unwrap_or(0),
        display: display.clone(),
    };
    let token = token::encode(&claims, &key.signing);
    Ok(Issued {
        token,
        colour: verdict.colour,
        issued_at: DateTime::from_timestamp(claims.issued_at, 0).unwrap_or(now),
        expires_at: DateTime::from_timestamp(claims.expires_at, 0).unwrap_or(now),
        kid: key.kid.to_hex(),
        display,
    })
}

/// A resident's own code, or one of their dependents' (`for_dependent`).
pub async fn mine(ctx: &Ctx, p: &Principal, for_dependent: Option<ResidentId>) -> Result<Issued> {
    authz::authorize(p, Action::ReadOwnProfile)?;
    let Principal::Resident { id, internal } = p else {
        return Err(ServiceError::Forbidden);
    };
    let target = match for_dependent {
        None => residents::by_public_id(&ctx.db, id.0).await?,
        Some(dep) => residents::dependents(&ctx.db, *internal)
            .await?
            .into_iter()
            .find(|d| d.public_id == dep.0),
    }
    .ok_or(ServiceError::NotFound("resident"))?;
    issue_for(ctx, &target, PHONE_LIFETIME).await
}

/// An official issues a code for someone, a printed one lasting `printed_days` when asked.
pub async fn for_resident(
    ctx: &Ctx,
    p: &Principal,
    id: ResidentId,
    printed_days: Option<i64>,
) -> Result<Issued> {
    authz::authorize(p, Action::ReadResident)?;
    let r = residents::by_public_id(&ctx.db, id.0)
        .await?
        .ok_or(ServiceError::NotFound("resident"))?;
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon))?;
    let lifetime = printed_days.map_or(PHONE_LIFETIME, Duration::days);
    issue_for(ctx, &r, lifetime).await
}

/// Phone codes for the first `count` residents, for the operator on the server host (load
/// tests, bulk runs): no principal, since whoever runs it already holds the database and keys.
pub async fn for_first_residents(ctx: &Ctx, count: i64) -> Result<Vec<Issued>> {
    let mut out = Vec::new();
    for r in residents::first(&ctx.db, count).await? {
        out.push(issue_for(ctx, &r, PHONE_LIFETIME).await?);
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VerifiedResident {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    pub display_name: String,
    pub id_last4: String,
    pub needs: Vec<Need>,
    /// Another record names the same identity document (a registration may have been
    /// squatted, or someone registered twice): check the ID card before admitting or handing
    /// out relief, and tell an official, who settles it.
    pub document_disputed: bool,
}

/// What a scan tells the person at the shelter door.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Verification {
    Valid {
        valid: bool,
        token_colour: Colour,
        current_colour: Colour,
        /// The colour in the code is not the colour now: go by `current_colour`.
        stale: bool,
        reasons: Vec<Reason>,
        resident: VerifiedResident,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        kid: String,
        /// When the facts behind `current_colour` were read: the database, now (offline
        /// verifiers show their bundle's time instead).
        data_as_of: DateTime<Utc>,
    },
    Invalid {
        valid: bool,
        /// malformed, unsupported_alg, unknown_key, revoked_key, bad_signature, expired,
        /// not_yet_valid, or unknown_resident (a genuine code of a resident since removed)
        error: String,
    },
}

fn invalid(code: &str) -> Verification {
    Verification::Invalid {
        valid: false,
        error: code.to_owned(),
    }
}

/// A genuine code, and the colour of its holder now.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub resident_internal: i64,
    pub resident_id: uuid::Uuid,
    /// The head of the resident's household (the resident themselves when they are one).
    pub household_internal: i64,
    pub claims: Claims,
    pub kid: token::Kid,
    pub id_last4: String,
    /// More than one live record names the holder's identity document.
    pub document_disputed: bool,
    pub facts: crate::rules::Facts,
    pub verdict: crate::rules::Verdict,
}

/// Checks a token's signature and expiry by the keys folder and reads the colour now from
/// the database by the active rules. A code that is not genuine (or whose resident is gone)
/// is `ServiceError::InvalidCode` with the verifier's error code. Checked in this thread's
/// next batch of scans (`super::scans`).
pub async fn scan(ctx: &Ctx, text: &str) -> Result<Scanned> {
    super::scans::scan(ctx, text).await
}

/// One scan checked alone: what a batch falls back to when it could not read the database.
pub(super) async fn scan_one(ctx: &Ctx, text: &str) -> Result<Scanned> {
    let known = ctx.keys.known();
    let now = ctx.now();
    // Hardware scanners end what they read with a line break.
    let checked = token::verify(
        text.trim(),
        |kid| crate::token::keys_with(&known, kid),
        now.timestamp(),
    );
    let v = match checked {
        Ok(v) => v,
        Err(e) => return Err(ServiceError::InvalidCode(TokenError::code(e))),
    };
    let Ok(id) = uuid::Uuid::parse_str(&v.claims.subject) else {
        return Err(ServiceError::InvalidCode("malformed"));
    };
    let rules = active_rules(ctx).await?;
    let Some(f) = facts_store::of_resident(&ctx.db, facts_store::Who::PublicId(id), now).await?
    else {
        return Err(ServiceError::InvalidCode("unknown_resident"));
    };
    Ok(scanned(v, id, f, &rules, now))
}

/// A genuine code and its holder's facts read now, judged by `rules`.
pub(super) fn scanned(
    v: token::Verified,
    id: uuid::Uuid,
    f: facts_store::ResidentFacts,
    rules: &crate::rules::RuleSet,
    now: DateTime<Utc>,
) -> Scanned {
    let (internal, household, id_last4) = (f.id, f.head_id.unwrap_or(f.id), f.id_last4.clone());
    let document_disputed = f.holders > 1;
    let facts = super::colour::facts(f.facts, f.override_reason, now);
    let verdict = rules.evaluate(&facts);
    Scanned {
        resident_internal: internal,
        resident_id: id,
        household_internal: household,
        claims: v.claims,
        kid: v.kid,
        id_last4,
        document_disputed,
        facts,
        verdict,
    }
}

/// Verifies a token online: signature and expiry by the keys folder, the colour now from the
/// database by the active rules.
pub async fn verify(ctx: &Ctx, p: &Principal, text: &str) -> Result<Verification> {
    authz::authorize(p, Action::Verify)?;
    let s = match scan(ctx, text).await {
        Ok(s) => s,
        Err(ServiceError::InvalidCode(code)) => return Ok(invalid(code)),
        Err(e) => return Err(e),
    };
    let now = ctx.now();
    Ok(Verification::Valid {
        valid: true,
        token_colour: s.claims.colour,
        current_colour: s.verdict.colour,
        stale: s.claims.colour != s.verdict.colour,
        // Staff read the basis, never an official's note about the person.
        reasons: s.verdict.reasons.iter().map(Reason::for_staff).collect(),
        resident: VerifiedResident {
            id: s.resident_id,
            display_name: s.claims.display.clone(),
            id_last4: s.id_last4,
            needs: s.facts.needs,
            document_disputed: s.document_disputed,
        },
        issued_at: DateTime::from_timestamp(s.claims.issued_at, 0).unwrap_or(now),
        expires_at: DateTime::from_timestamp(s.claims.expires_at, 0).unwrap_or(now),
        kid: s.kid.to_hex(),
        data_as_of: now,
    })
}
