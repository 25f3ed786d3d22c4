//! The status list this server signs: every resident's *current* colour on their status
//! index. Rebuilt when a colour may have moved — the audit chain grew (every order, override,
//! admission, rule change… is audited) or an order or override may have expired since — but
//! at most once per debounce interval, by a background task on each server. Lists are kept in
//! the database by epoch, so every server serves the newest; two servers rebuilding at once
//! both try to store the next epoch and one of them wins.

use super::{Ctx, Result, colour};
use crate::store::{self, status_lists};
use crate::token::status_list::{self as list, Slot, StatusBits, StatusList};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::sync::{Arc, RwLock};

/// A list older than this is rebuilt even if nothing was audited: orders and overrides
/// expire on their own.
const REFRESH: Duration = Duration::minutes(10);

/// A signed list as served.
#[derive(Debug, Clone)]
pub struct Published {
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
    pub status_list: StatusListView,
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

/// The verifier bundle for staff going offline.
pub async fn bundle(ctx: &Ctx, p: &super::Principal) -> Result<BundleView> {
    use base64::Engine;
    super::authz::authorize(p, super::Action::Verify)?;
    let list = current(ctx).await?;
    let issued_at = list.issued_at.timestamp();
    Ok(BundleView {
        format: crate::token::offline::BUNDLE_FORMAT,
        server_time: issued_at,
        max_age_seconds: list.expires_at - issued_at,
        rules_version: list.rules_version,
        status_list: StatusListView {
            epoch: list.epoch,
            issued_at,
            expires_at: list.expires_at,
            cose: base64::engine::general_purpose::STANDARD.encode(list.body.as_slice()),
        },
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

/// Per-process state: settings, the newest body read, and one rebuild at a time.
#[derive(Debug)]
pub struct StatusLists {
    pub debounce: Duration,
    pub max_age: Duration,
    newest: RwLock<Option<Published>>,
    building: tokio::sync::Mutex<()>,
}

impl StatusLists {
    pub fn new(debounce_secs: u32, max_age_secs: u32) -> Self {
        StatusLists {
            debounce: Duration::seconds(i64::from(debounce_secs)),
            max_age: Duration::seconds(i64::from(max_age_secs)),
            newest: RwLock::new(None),
            building: tokio::sync::Mutex::new(()),
        }
    }
}

/// The newest list, built first if there is none yet.
pub async fn current(ctx: &Ctx) -> Result<Published> {
    let head = match status_lists::newest(&ctx.db).await? {
        Some(h) => h,
        None => {
            rebuild(ctx, None).await?;
            status_lists::newest(&ctx.db)
                .await?
                .ok_or_else(|| super::ServiceError::internal("no status list after a build"))?
        }
    };
    let cached = ctx
        .status_lists
        .newest
        .read()
        .ok()
        .and_then(|n| n.clone())
        .filter(|p| p.epoch == head.epoch);
    if let Some(p) = cached {
        return Ok(p);
    }
    let body = status_lists::body(&ctx.db, head.epoch)
        .await?
        .ok_or_else(|| store::StoreError::Corrupt("a status list without its body".into()))?;
    let keys = crate::token::known_from_jwks(&ctx.keys.jwks()).unwrap_or_default();
    let signed = list::verify_signature(&body, |kid| crate::token::keys_with(&keys, kid))
        .map_err(|e| store::StoreError::Corrupt(format!("stored status list: {e}")))?;
    let p = Published {
        epoch: head.epoch,
        issued_at: head.issued_at,
        expires_at: signed.expires_at,
        rules_version: signed.rules_version,
        body: Arc::new(body),
    };
    if let Ok(mut n) = ctx.status_lists.newest.write() {
        *n = Some(p.clone());
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

/// Rebuilds when due; `true` if this call stored a new epoch.
pub async fn refresh_if_due(ctx: &Ctx) -> Result<bool> {
    let head = status_lists::newest(&ctx.db).await?;
    let now = ctx.now();
    let due = match &head {
        None => true,
        Some(h) => {
            let age = now - h.issued_at;
            let urgent = age >= URGENT_AFTER
                && store::meta::read(&ctx.db, URGENT_KEY)
                    .await?
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|ms| ms >= h.issued_at.timestamp_millis());
            urgent
                || (age >= ctx.status_lists.debounce
                    && (age >= REFRESH.min(ctx.status_lists.max_age / 4)
                        || status_lists::audit_seq(&ctx.db).await? != h.audit_seq))
        }
    };
    if !due {
        return Ok(false);
    }
    rebuild(ctx, head.map(|h| h.epoch)).await
}

/// Keeps the list fresh until the process ends.
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

/// Builds and stores the epoch after `after`, unless someone already did.
async fn rebuild(ctx: &Ctx, after: Option<i64>) -> Result<bool> {
    let _one = ctx.status_lists.building.lock().await;
    if status_lists::newest(&ctx.db).await?.map(|h| h.epoch) != after {
        return Ok(false);
    }
    let now = ctx.now();
    // Read before the facts: a change committed while they are read makes the next check
    // rebuild again.
    let seq = status_lists::audit_seq(&ctx.db).await?;
    let slots = {
        let mut tx = ctx.db.begin().await?;
        let s = super::status_slots::status_space(&mut tx).await?;
        tx.commit().await?;
        s
    };
    let built = build(ctx, slots, now).await?;
    let key = ctx
        .keys
        .signer()
        .ok_or_else(|| super::ServiceError::internal("no active signing key"))?;
    let epoch = after.unwrap_or(0) + 1;
    let signed = list::sign(
        &StatusList {
            epoch: epoch as u64,
            issued_at: now.timestamp(),
            expires_at: (now + ctx.status_lists.max_age).timestamp(),
            rules_version: built.1,
            bits: built.0,
        },
        &key.signing,
    );
    Ok(status_lists::insert(&ctx.db, epoch, now, seq, &signed).await?)
}

/// Every resident's colour by the active rules, each distinct set of facts evaluated once.
pub async fn build(ctx: &Ctx, slots: u32, now: DateTime<Utc>) -> Result<(StatusBits, u32)> {
    let rules = colour::active_rules(ctx).await?;
    let mut bits = StatusBits::new(slots);
    for g in status_lists::slot_groups(&ctx.db, rules.uses("age"), now).await? {
        let c = rules.colour(&colour::facts(g.facts, None, now));
        for index in g.slots.split(',').filter_map(|s| s.parse::<u32>().ok()) {
            bits.set(index, Slot::Colour(c));
        }
    }
    for index in status_lists::retired_slots(&ctx.db).await? {
        bits.set(index as u32, Slot::Revoked);
    }
    Ok((bits, u32::try_from(rules.version).unwrap_or(0)))
}
