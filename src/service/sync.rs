//! Events a shelter device recorded offline (check-ins, check-outs, distributions), uploaded
//! in one batch when the network returns. Each is applied once — its idempotency key is the
//! same key the online request would carry — with the same atomic rules as online, in
//! device-time order per resident. Each gets an answer: `applied`, `duplicate` (applied
//! before) or `conflict` with the reason; conflicts are kept for officials. Nothing is dropped:
//! an event that cannot be read is a conflict too.

use super::shelters::{CheckinRequest, Leaving};
use super::{Ctx, Principal, Result, ServiceError, authz};
use crate::domain::shelter::CheckoutReason;
use crate::store::sync::{self as store_sync, NewConflict};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The most events one upload may carry.
pub const MAX_EVENTS: usize = 10_000;
/// Residents whose events are applied at once (each resident's in order).
const PARALLEL: usize = 32;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncEvent {
    /// `checkin`, `checkout` or `distribution`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key the device gave the event when it recorded it.
    pub idempotency_key: String,
    /// The code scanned.
    pub token: String,
    /// When it happened, by the device's clock.
    pub device_time: DateTime<Utc>,
    pub device_id: String,
    /// checkin: admit the household.
    #[serde(default)]
    pub include_dependents: bool,
    /// checkout: returned_home, moved_to_relatives, transferred, hospital.
    pub reason: Option<String>,
    /// checkout with `transferred`.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub to_shelter_id: Option<Uuid>,
    /// distribution: the relief item and quantity.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub item_id: Option<Uuid>,
    pub quantity: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBatch {
    pub events: Vec<SyncEvent>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventResult {
    pub idempotency_key: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `applied`, `duplicate` or `conflict`.
    pub status: &'static str,
    /// For a conflict, the problem code an online request would have got (`ServiceError::code`):
    /// already_sheltered, shelter_full, shelter_closed, quota_exceeded, not_sheltered_here, the
    /// verifier's code for a code that is not genuine (bad_signature, expired, …), a field's
    /// code, idempotency_key_reused, not_found; or invalid_event for an event too broken to try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For an applied event: what the online request would have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub answer: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    pub applied: usize,
    pub duplicates: usize,
    pub conflicts: usize,
    /// One per event, in the order sent.
    pub results: Vec<EventResult>,
}

enum Kind {
    Checkin,
    Checkout(CheckoutReason),
    Distribution(Uuid, i64),
}

impl Kind {
    fn of(e: &SyncEvent) -> std::result::Result<Kind, String> {
        match e.kind.as_str() {
            "checkin" => Ok(Kind::Checkin),
            "checkout" => {
                let r = e.reason.as_deref().ok_or("a checkout needs a reason")?;
                CheckoutReason::parse(r)
                    .map(Kind::Checkout)
                    .map_err(|i| i.to_string())
            }
            "distribution" => match (e.item_id, e.quantity) {
                (Some(item), Some(q)) => Ok(Kind::Distribution(item, q)),
                _ => Err("a distribution needs item_id and quantity".into()),
            },
            _ => Err("type must be checkin, checkout or distribution".into()),
        }
    }

    fn scope(&self, shelter: Uuid) -> String {
        match self {
            Kind::Checkin => format!("checkin:{shelter}"),
            Kind::Checkout(_) => format!("checkout:{shelter}"),
            Kind::Distribution(..) => format!("relief:{shelter}"),
        }
    }
}

fn key_ok(k: &str) -> bool {
    (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

/// Applies an upload; see the module comment.
pub async fn sync(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    batch: &SyncBatch,
) -> Result<SyncReport> {
    super::shelters::ensure_may_act(ctx, p, shelter).await?;
    if batch.events.len() > MAX_EVENTS {
        return Err(crate::domain::Invalid::new(
            "events",
            "too_many_events",
            format!("at most {MAX_EVENTS} events per upload; send the rest in another"),
        )
        .into());
    }
    let mut results: Vec<Option<EventResult>> = batch.events.iter().map(|_| None).collect();
    // Who each event is about, from its code (read in parallel, answered in order);
    // unreadable events are answered now.
    let scans: Vec<Result<std::result::Result<Uuid, (&'static str, String)>>> =
        futures_util::stream::iter(&batch.events)
            .map(|e| async move {
                if !key_ok(&e.idempotency_key) || e.device_id.is_empty() || e.device_id.len() > 200
                {
                    return Ok(Err((
                        "invalid_event",
                        "idempotency_key and device_id must be 1 to 200 visible characters"
                            .to_owned(),
                    )));
                }
                if let Err(why) = Kind::of(e) {
                    return Ok(Err(("invalid_event", why)));
                }
                match super::codes::scan(ctx, &e.token).await {
                    Ok(s) => Ok(Ok(s.resident_id)),
                    Err(refused @ ServiceError::InvalidCode(_)) => {
                        Ok(Err((refused.code(), refused.to_string())))
                    }
                    Err(e) => Err(e),
                }
            })
            .buffered(PARALLEL)
            .collect()
            .await;
    let mut per_resident: HashMap<Uuid, Vec<usize>> = HashMap::new();
    for (i, (e, scanned)) in batch.events.iter().zip(scans).enumerate() {
        match scanned? {
            Ok(resident) => per_resident.entry(resident).or_default().push(i),
            Err((reason, detail)) => {
                results[i] = Some(conflict(ctx, p, shelter, e, reason, detail, None).await?);
            }
        }
    }
    let mut groups: Vec<(Uuid, Vec<usize>)> = per_resident.into_iter().collect();
    for (_, g) in &mut groups {
        g.sort_by_key(|i| batch.events[*i].device_time);
    }
    let done: Vec<Result<Vec<(usize, EventResult)>>> = futures_util::stream::iter(groups)
        .map(|(resident, g)| async move {
            let mut out = Vec::with_capacity(g.len());
            for i in g {
                out.push((i, apply(ctx, p, shelter, resident, &batch.events[i]).await?));
            }
            Ok(out)
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for group in done {
        for (i, r) in group? {
            results[i] = Some(r);
        }
    }
    let results: Vec<EventResult> = results.into_iter().flatten().collect();
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(SyncReport {
        applied: count("applied"),
        duplicates: count("duplicate"),
        conflicts: count("conflict"),
        results,
    })
}

/// Applies one event about `resident` (read from its code already).
async fn apply(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    resident: Uuid,
    e: &SyncEvent,
) -> Result<EventResult> {
    let kind = match Kind::of(e) {
        Ok(k) => k,
        Err(why) => return conflict(ctx, p, shelter, e, "invalid_event", why, None).await,
    };
    let key = e.idempotency_key.as_str();
    if store_sync::applied(&ctx.db, &kind.scope(shelter), key).await? {
        return Ok(result(e, "duplicate", None, None, None));
    }
    let answer = match kind {
        Kind::Checkin => super::shelters::checkin(
            ctx,
            p,
            shelter,
            &CheckinRequest {
                token: &e.token,
                include_dependents: e.include_dependents,
                idempotency_key: Some(key),
            },
        )
        .await
        .map(|a| serde_json::to_value(a).unwrap_or_default()),
        Kind::Checkout(reason) => super::shelters::checkout(
            ctx,
            p,
            shelter,
            Leaving::Token(&e.token),
            reason,
            e.to_shelter_id,
            Some(key),
        )
        .await
        .map(|a| serde_json::to_value(a).unwrap_or_default()),
        Kind::Distribution(item, quantity) => super::relief::give(
            ctx,
            p,
            shelter,
            &super::relief::GiveRequest {
                token: &e.token,
                item,
                quantity,
                idempotency_key: Some(key),
            },
        )
        .await
        .map(|a| serde_json::to_value(a).unwrap_or_default()),
    };
    match answer {
        Ok(a) => Ok(result(e, "applied", None, None, Some(a))),
        Err(e @ (ServiceError::Store(_) | ServiceError::Internal(_))) => Err(e),
        Err(err) => {
            conflict(
                ctx,
                p,
                shelter,
                e,
                err.code(),
                err.to_string(),
                Some(resident),
            )
            .await
        }
    }
}

fn result(
    e: &SyncEvent,
    status: &'static str,
    reason: Option<&'static str>,
    detail: Option<String>,
    answer: Option<serde_json::Value>,
) -> EventResult {
    EventResult {
        idempotency_key: e.idempotency_key.clone(),
        kind: e.kind.clone(),
        status,
        reason,
        detail,
        answer,
    }
}

async fn conflict(
    ctx: &Ctx,
    p: &Principal,
    shelter: Uuid,
    e: &SyncEvent,
    reason: &'static str,
    detail: String,
    resident: Option<Uuid>,
) -> Result<EventResult> {
    // An event too broken to have a usable key is still kept, under a key made from its
    // content.
    let key = if key_ok(&e.idempotency_key) {
        e.idempotency_key.clone()
    } else {
        format!("invalid:{}", hex_sha(&e.idempotency_key, &e.token))
    };
    let device: String = e.device_id.chars().take(200).collect();
    let kind: String = e.kind.chars().take(20).collect();
    store_sync::record(
        &ctx.db,
        &NewConflict {
            shelter,
            idempotency_key: &key,
            device_id: &device,
            event_type: &kind,
            device_time: e.device_time,
            reason,
            detail: &detail,
            resident,
            by: &p.actor(),
        },
        ctx.now(),
    )
    .await?;
    Ok(result(e, "conflict", Some(reason), Some(detail), None))
}

fn hex_sha(a: &str, b: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::new()
        .chain_update(a.as_bytes())
        .chain_update([0])
        .chain_update(b.as_bytes())
        .finalize();
    h.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub id: i64,
    #[schema(value_type = String, format = Uuid)]
    pub shelter_id: Uuid,
    pub idempotency_key: String,
    pub device_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub device_time: DateTime<Utc>,
    pub reason: String,
    pub detail: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub resident_id: Option<Uuid>,
    pub received_at: DateTime<Utc>,
    pub received_by: String,
}

/// Conflicts for officials, newest first; with a district, those of shelters inside it.
pub async fn conflicts(
    ctx: &Ctx,
    p: &Principal,
    shelter: Option<Uuid>,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<ConflictView>> {
    authz::authorize(p, super::Action::ManageShelters)?;
    let rows = store_sync::list(
        &ctx.db,
        shelter,
        before,
        limit.unwrap_or(100).clamp(1, 1000),
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            super::authz::sees(
                p,
                crate::domain::Location::from_columns(r.shelter_lat, r.shelter_lon),
            )
        })
        .map(|r| ConflictView {
            id: r.id,
            shelter_id: r.shelter_public_id,
            idempotency_key: r.idempotency_key,
            device_id: r.device_id,
            kind: r.event_type,
            device_time: r.device_time,
            reason: r.reason,
            detail: r.detail,
            resident_id: r.resident_public_id,
            received_at: r.received_at,
            received_by: r.received_by,
        })
        .collect())
}
