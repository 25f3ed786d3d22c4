//! The status lists this server signs: every resident's *current* colour on their status
//! slot, one list per district (and the default list, for codes without a district). A list
//! is rebuilt when a colour in it may have moved — an audited change marked its district
//! (`store::status_lists::mark_moved`, written where every audit entry is appended), or an
//! order or override may have expired since — but at most once per debounce interval, by a
//! background task on each server: an order in one district rebuilds that district's list,
//! not the province's. Lists are kept in the database by district and epoch, so every server
//! serves the newest; two servers rebuilding at once both try to store the next epoch and one
//! of them wins.

use super::{Ctx, Result, colour};
use crate::domain::DistrictId;
use crate::store::{self, status_lists};
use crate::token::status_list::{self as list, Slot, StatusBits, StatusList};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A list older than this is rebuilt even if nothing was audited: orders and overrides
/// expire on their own.
const REFRESH: Duration = Duration::minutes(10);

/// A signed list as served.
#[derive(Debug, Clone)]
pub struct Published {
    pub district: Option<DistrictId>,
    pub epoch: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: i64,
    pub rules_version: u32,
    /// COSE_Sign1 bytes.
    pub body: Arc<Vec<u8>>,
}

/// What an offline verifier downloads (docs/offline.md): the keys, the signed status list,
/// and, in plain, what the list signs (a verifier refuses a bundle where they differ).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BundleView {
    /// `safecode-bundle/1`
    pub format: &'static str,
    /// The server's clock when the list was signed (Unix seconds); no verifier's clock is
    /// believed before it.
    pub server_time: i64,
    /// After `server_time + max_age_seconds` a verifier answers "cannot verify".
    pub max_age_seconds: i64,
    pub rules_version: u32,
    /// The default list: codes without a `district` claim.
    pub status_list: StatusListView,
    /// The lists of the districts asked for (the shelter's own and named neighbours), each
    /// signed on its own. A code of a district not here is "signature valid, current colour
    /// unknown offline". Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub district_lists: Vec<DistrictListView>,
    /// The keys that sign codes and the list (as `GET /v1/keys`).
    #[schema(value_type = Object)]
    pub jwks: serde_json::Value,
    /// Each key vouched for by every older key not revoked (COSE_Sign1, standard base64): a
    /// verifier that pinned an older key accepts a newer one only through these.
    pub endorsements: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusListView {
    pub epoch: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The COSE_Sign1 bytes (as `GET /v1/status-list`), standard base64.
    pub cose: String,
}

/// A district's list in a bundle.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DistrictListView {
    #[schema(value_type = u8)]
    pub district: DistrictId,
    #[serde(flatten)]
    pub list: StatusListView,
}

/// The most district lists one bundle carries: a shelter's own and its neighbours. A 2 M
/// district's list is ~110 KB, so this bounds a bundle at a few MB.
pub const MAX_BUNDLE_DISTRICTS: usize = 16;

fn list_view(list: &Published) -> StatusListView {
    use base64::Engine;
    StatusListView {
        epoch: list.epoch,
        issued_at: list.issued_at.timestamp(),
        expires_at: list.expires_at,
        cose: base64::engine::general_purpose::STANDARD.encode(list.body.as_slice()),
    }
}

/// The verifier bundle for staff going offline: the default list, and the lists of
/// `districts` plus the districts of the caller's own shelters.
pub async fn bundle(
    ctx: &Ctx,
    p: &super::Principal,
    districts: &[DistrictId],
) -> Result<BundleView> {
    super::authz::authorize(p, super::Action::Verify)?;
    let mut wanted: Vec<DistrictId> = districts.to_vec();
    if let super::Principal::User { shelters, .. } = p {
        for s in shelters {
            if let Some(shelter) = store::shelters::get(&ctx.db, *s, ctx.now()).await? {
                let at = crate::domain::Location {
                    lat: shelter.lat,
                    lon: shelter.lon,
                };
                let mut tx = ctx.db.begin().await?;
                let d = super::districts::locate(&mut tx, Some(at)).await?;
                tx.commit().await?;
                wanted.extend(d);
            }
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.len() > MAX_BUNDLE_DISTRICTS {
        return Err(crate::domain::Invalid::new(
            "districts",
            "too_many_districts",
            format!("a bundle carries at most {MAX_BUNDLE_DISTRICTS} districts"),
        )
        .into());
    }
    for d in &wanted {
        if !super::districts::exists(ctx, *d).await? {
            return Err(super::ServiceError::NotFound("district"));
        }
    }
    let list = current(ctx, None).await?;
    let mut district_lists = Vec::with_capacity(wanted.len());
    for d in wanted {
        district_lists.push(DistrictListView {
            district: d,
            list: list_view(&current(ctx, Some(d)).await?),
        });
    }
    let issued_at = list.issued_at.timestamp();
    Ok(BundleView {
        format: crate::token::offline::BUNDLE_FORMAT,
        server_time: issued_at,
        max_age_seconds: list.expires_at - issued_at,
        rules_version: list.rules_version,
        status_list: list_view(&list),
        district_lists,
        jwks: ctx.keys.jwks(),
        endorsements: endorsements(ctx),
    })
}

fn endorsements(ctx: &Ctx) -> Vec<String> {
    use crate::keys::signing::KeyStatus;
    use base64::Engine;
    let keys = ctx.keys.keys();
    let live: Vec<_> = keys
        .iter()
        .filter(|k| k.status != KeyStatus::Revoked)
        .collect();
    let mut out = Vec::new();
    for (i, older) in live.iter().enumerate() {
        for newer in &live[i + 1..] {
            out.push(base64::engine::general_purpose::STANDARD.encode(
                crate::token::endorsement::sign(&older.signing, &newer.signing.verifying_key()),
            ));
        }
    }
    out
}

/// Per-process state: settings, the newest body read of each list, and one rebuild at a time.
#[derive(Debug)]
pub struct StatusLists {
    pub debounce: Duration,
    pub max_age: Duration,
    newest: RwLock<HashMap<Option<DistrictId>, Published>>,
    building: tokio::sync::Mutex<()>,
}

impl StatusLists {
    pub fn new(debounce_secs: u32, max_age_secs: u32) -> Self {
        StatusLists {
            debounce: Duration::seconds(i64::from(debounce_secs)),
            max_age: Duration::seconds(i64::from(max_age_secs)),
            newest: RwLock::new(HashMap::new()),
            building: tokio::sync::Mutex::new(()),
        }
    }
}

/// How a list is keyed in the database: 0 for the default list.
fn key(district: Option<DistrictId>) -> status_lists::ListKey {
    crate::domain::ids::list_key(district)
}

/// The newest list of a district (`None`: the default list), built first if there is none
/// yet.
pub async fn current(ctx: &Ctx, district: Option<DistrictId>) -> Result<Published> {
    let head = match status_lists::newest(&ctx.db, key(district)).await? {
        Some(h) => h,
        None => {
            rebuild(ctx, district, None).await?;
            status_lists::newest(&ctx.db, key(district))
                .await?
                .ok_or_else(|| super::ServiceError::internal("no status list after a build"))?
        }
    };
    let cached = ctx
        .status_lists
        .newest
        .read()
        .ok()
        .and_then(|n| n.get(&district).cloned())
        .filter(|p| p.epoch == head.epoch);
    if let Some(p) = cached {
        return Ok(p);
    }
    let body = status_lists::body(&ctx.db, key(district), head.epoch)
        .await?
        .ok_or_else(|| store::StoreError::Corrupt("a status list without its body".into()))?;
    let keys = crate::token::known_from_jwks(&ctx.keys.jwks()).unwrap_or_default();
    let signed = list::verify_signature(&body, |kid| crate::token::keys_with(&keys, kid))
        .map_err(|e| store::StoreError::Corrupt(format!("stored status list: {e}")))?;
    if signed.district != district {
        return Err(store::StoreError::Corrupt(
            "a status list stored under another district".into(),
        )
        .into());
    }
    let p = Published {
        district,
        epoch: head.epoch,
        issued_at: head.issued_at,
        expires_at: signed.expires_at,
        rules_version: signed.rules_version,
        body: Arc::new(body),
    };
    if let Ok(mut n) = ctx.status_lists.newest.write() {
        n.insert(district, p.clone());
    }
    Ok(p)
}

/// The meta key under which a change that may make someone's colour worse (an order, an
/// approval, a check-out, "at home") records when it committed, in milliseconds.
const URGENT_KEY: &str = "status_list_urgent_ms";

/// How soon after a change that may make a colour worse the list is rebuilt, on any server:
/// within [`URGENT_AFTER`] plus a tick (0.5 s) plus a build (~1.6 s for 1M residents), so a
/// shelter tablet fetching right after an order sees it within 5 s. The calm changes still
/// wait for the debounce.
const URGENT_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// Marks, inside the change's own transaction, that the lists must catch up now.
pub async fn mark_urgent(tx: &mut store::Tx, now: DateTime<Utc>) -> Result<()> {
    store::meta::raise_to(tx, URGENT_KEY, now.timestamp_millis()).await?;
    Ok(())
}

/// Rebuilds every list that is due; how many new epochs this call stored.
pub async fn refresh_if_due(ctx: &Ctx) -> Result<usize> {
    let lists = super::districts::all_lists(ctx).await?;
    let heads: HashMap<status_lists::ListKey, status_lists::ListHead> =
        status_lists::newest_all(&ctx.db)
            .await?
            .into_iter()
            .map(|h| (h.district, h))
            .collect();
    let (all_moved, moved) = status_lists::moved(&ctx.db).await?;
    let moved: HashMap<status_lists::ListKey, i64> = moved.into_iter().collect();
    let now = ctx.now();
    let mut urgent_ms = None;
    let mut built = 0;
    for district in lists {
        let head = heads.get(&key(district));
        let due = match head {
            None => true,
            Some(h) => {
                let age = now - h.issued_at;
                let last_move = moved.get(&key(district)).copied().max(all_moved);
                let changed = last_move.is_some_and(|seq| seq > h.audit_seq);
                let urgent = changed && age >= URGENT_AFTER && {
                    if urgent_ms.is_none() {
                        urgent_ms = Some(
                            store::meta::read(&ctx.db, URGENT_KEY)
                                .await?
                                .and_then(|v| v.parse::<i64>().ok())
                                .unwrap_or(0),
                        );
                    }
                    urgent_ms.unwrap_or(0) >= h.issued_at.timestamp_millis()
                };
                urgent
                    || (age >= ctx.status_lists.debounce
                        && (changed || age >= REFRESH.min(ctx.status_lists.max_age / 4)))
            }
        };
        if !due {
            continue;
        }
        // One list that cannot be built holds back no other: it is tried again next tick.
        match rebuild(ctx, district, head.map(|h| h.epoch)).await {
            Ok(true) => built += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(district = key(district), error = %e, "status list rebuild failed; will retry");
            }
        }
    }
    Ok(built)
}

/// Keeps the lists fresh until the process ends.
pub async fn keep_fresh(ctx: Ctx) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = refresh_if_due(&ctx).await {
            tracing::warn!(error = %e, "status list rebuild failed; will retry");
        }
    }
}

/// Builds and stores a district's epoch after `after`, unless someone already did.
async fn rebuild(ctx: &Ctx, district: Option<DistrictId>, after: Option<i64>) -> Result<bool> {
    let _one = ctx.status_lists.building.lock().await;
    if status_lists::newest(&ctx.db, key(district))
        .await?
        .map(|h| h.epoch)
        != after
    {
        return Ok(false);
    }
    let now = ctx.now();
    let slots = {
        let mut tx = ctx.db.begin().await?;
        let s = super::status_slots::list_space(&mut tx, district).await?;
        tx.commit().await?;
        s
    };
    // The chain's length and then the facts, both from one database (the replica when it is
    // close enough behind): a change committed after the length was read makes the next
    // check rebuild again.
    let (reader, on_replica) = ctx.reader();
    let read = async {
        let seq = status_lists::audit_seq(reader).await?;
        Ok::<_, super::ServiceError>((seq, build(ctx, reader, district, slots, now).await?))
    };
    let (seq, built) = match read.await {
        Ok(r) => r,
        Err(e) => {
            if on_replica {
                ctx.replica_failed();
            }
            return Err(e);
        }
    };
    let key_pair = ctx
        .keys
        .signer()
        .ok_or_else(|| super::ServiceError::internal("no active signing key"))?;
    let epoch = after.unwrap_or(0) + 1;
    let signed = list::sign(
        &StatusList {
            district,
            epoch: epoch as u64,
            issued_at: now.timestamp(),
            expires_at: (now + ctx.status_lists.max_age).timestamp(),
            rules_version: built.1,
            bits: built.0,
        },
        &key_pair.signing,
    );
    Ok(status_lists::insert(&ctx.db, key(district), epoch, now, seq, &signed).await?)
}

/// Every colour in one list by the active rules, each distinct set of facts evaluated once.
/// The slots no one holds take the commonest colour (see `StatusBits::filled`).
pub async fn build(
    ctx: &Ctx,
    from: &store::Db,
    district: Option<DistrictId>,
    slots: u32,
    now: DateTime<Utc>,
) -> Result<(StatusBits, u32)> {
    let rules = colour::active_rules(ctx).await?;
    let (start, end) = match district {
        None => (0, crate::domain::ids::DISTRICT_BASE),
        Some(d) => d.window(),
    };
    let window = (i64::from(start), i64::from(end));
    let groups = status_lists::slot_groups(from, window, rules.uses("age"), now).await?;
    let coloured: Vec<_> = groups
        .into_iter()
        .map(|g| (rules.colour(&colour::facts(g.facts, None, now)), g.slots))
        .collect();
    let mut per_colour = [0usize; 3];
    for (c, slots) in &coloured {
        per_colour[c.code() as usize] += slots.split(',').count();
    }
    let commonest = (0..3)
        .max_by_key(|i| (per_colour[*i], std::cmp::Reverse(*i)))
        .and_then(|i| crate::domain::Colour::from_code(i as i64))
        .unwrap_or(crate::domain::Colour::Green);
    let mut bits = StatusBits::filled(slots, Slot::Colour(commonest));
    let local = |stored: i64| u32::try_from(stored - window.0).ok();
    for (c, slots) in &coloured {
        for index in slots
            .split(',')
            .filter_map(|s| s.parse::<i64>().ok())
            .filter_map(local)
        {
            bits.set(index, Slot::Colour(*c));
        }
    }
    for index in status_lists::retired_slots(from, window).await? {
        if let Some(i) = local(i64::from(index)) {
            bits.set(i, Slot::Revoked);
        }
    }
    Ok((bits, u32::try_from(rules.version).unwrap_or(0)))
}
