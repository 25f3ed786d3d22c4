//! Colours, computed from facts at read time with the active rule set.

use super::{Ctx, Result};
use crate::domain::{Colour, OrderLevel};
use crate::rules::{Facts, RuleSet, Verdict};
use crate::store::facts::{self as facts_store, FactGroup, FactRow};
use crate::store::{self, rules as rules_store};
use chrono::{DateTime, Datelike, Utc};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The compiled active rule set, shared by the requests of one server, with when the
/// database last confirmed it was still the active one.
#[derive(Clone, Default, Debug)]
pub struct RuleCache(Arc<RwLock<Option<Confirmed>>>);

/// A rule set and when the database last confirmed it active.
type Confirmed = (Arc<RuleSet>, std::time::Instant);

/// How long a server trusts its cached rule set before asking the database again: an
/// activation on another server is seen within this, one on this server at once.
const RULES_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl RuleCache {
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.0.write() {
            *g = None;
        }
    }
}

pub async fn active_rules(ctx: &Ctx) -> Result<Arc<RuleSet>> {
    if let Ok(guard) = ctx.rules.0.read()
        && let Some((rs, checked)) = guard.as_ref()
        && checked.elapsed() < RULES_RECHECK
    {
        return Ok(rs.clone());
    }
    let version = rules_store::active_version(&ctx.db).await?;
    let cached = ctx
        .rules
        .0
        .read()
        .ok()
        .and_then(|g| g.as_ref().map(|(rs, _)| rs.clone()));
    if let Some(rs) = cached
        && Some(rs.version) == version
    {
        if let Ok(mut g) = ctx.rules.0.write() {
            *g = Some((rs.clone(), std::time::Instant::now()));
        }
        return Ok(rs);
    }
    let compiled = match rules_store::active(&ctx.db).await? {
        Some(stored) => RuleSet::parse(stored.version, &stored.document).map_err(|e| {
            store::StoreError::Corrupt(format!(
                "active rule set v{} no longer compiles: {e}",
                stored.version
            ))
        })?,
        None => RuleSet::default_set(),
    };
    let compiled = Arc::new(compiled);
    if let Ok(mut guard) = ctx.rules.0.write() {
        *guard = Some((compiled.clone(), std::time::Instant::now()));
    }
    Ok(compiled)
}

pub(crate) fn age(birth_year: Option<i32>, now: DateTime<Utc>) -> Option<i32> {
    birth_year.map(|y| now.year() - y)
}

pub(crate) fn override_of(colour: Option<i32>, reason: Option<String>) -> Option<(Colour, String)> {
    colour
        .and_then(|c| Colour::from_code(i64::from(c)))
        .map(|c| (c, reason.unwrap_or_else(|| "Set by an official.".into())))
}

/// The facts of one resident now.
pub async fn facts_of(ctx: &Ctx, resident_id: i64, now: DateTime<Utc>) -> Result<Option<Facts>> {
    Ok(
        facts_store::of_resident(&ctx.db, facts_store::Who::Id(resident_id), now)
            .await?
            .map(|f| facts(f.facts, f.override_reason, now)),
    )
}

/// The one conversion from the read model to what the rules read. `override_reason` is the
/// note of the override in force, where the query read it (groups do not).
pub fn facts(row: FactRow, override_reason: Option<String>, now: DateTime<Utc>) -> Facts {
    Facts {
        order_level: OrderLevel::from_rank(i64::from(row.level)),
        sheltered: row.sheltered > 0,
        safe_with_relatives: row.safe > 0,
        needs: row.needs.0,
        flags: row.flags.0,
        age: age(row.birth_year, now),
        override_colour: override_of(row.override_colour, override_reason),
    }
}

/// A resident's facts as the transaction's own changes leave them: what an official's change
/// is judged by (before and after, see `RuleSet::worsens`).
pub async fn facts_in_tx(
    tx: &mut store::Tx,
    resident_id: i64,
    now: DateTime<Utc>,
) -> Result<Facts> {
    facts_store::of_resident_tx(tx, facts_store::Who::Id(resident_id), now)
        .await?
        .map(|f| facts(f.facts, f.override_reason, now))
        .ok_or(super::ServiceError::NotFound("resident"))
}

pub async fn verdict_of(ctx: &Ctx, resident_id: i64) -> Result<Option<Verdict>> {
    let rules = active_rules(ctx).await?;
    let now = ctx.now();
    Ok(facts_of(ctx, resident_id, now)
        .await?
        .map(|f| rules.evaluate(&f)))
}

/// How many residents of each colour, per zone (`None` for a scope without zones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub green: i64,
    pub yellow: i64,
    pub red: i64,
    /// Of those, in a shelter now.
    pub sheltered: i64,
    /// Of those, not in a shelter but safe with relatives by their own word.
    pub safe_with_relatives: i64,
}

impl Tally {
    /// Counts where `n` residents with these facts are.
    fn place(&mut self, f: &Facts, n: i64) {
        if f.sheltered {
            self.sheltered += n;
        } else if f.safe_with_relatives {
            self.safe_with_relatives += n;
        }
    }
}

impl Tally {
    pub fn add(&mut self, c: Colour, n: i64) {
        match c {
            Colour::Green => self.green += n,
            Colour::Yellow => self.yellow += n,
            Colour::Red => self.red += n,
        }
    }

    pub fn total(&self) -> i64 {
        self.green + self.yellow + self.red
    }
}

/// Colours per zone for every zone in use, from the facts kept on the memberships.
pub async fn tally_zones(ctx: &Ctx, rules: &RuleSet) -> Result<HashMap<Option<i64>, Tally>> {
    if rules.uses("age") {
        return tally(ctx, rules, facts_store::Scope::EachZone).await;
    }
    let now = ctx.now();
    let mut out: HashMap<Option<i64>, Tally> = HashMap::new();
    for g in facts_store::grouped_by_zone(&ctx.db, now).await? {
        let facts = facts(g.fact_row(), None, now);
        let t = out.entry(Some(g.zone_id)).or_default();
        t.add(rules.colour(&facts), g.n);
        t.place(&facts, g.n);
    }
    Ok(out)
}

/// Colours of everyone in `scope`, evaluated once per distinct set of facts.
pub async fn tally(
    ctx: &Ctx,
    rules: &RuleSet,
    scope: facts_store::Scope,
) -> Result<HashMap<Option<i64>, Tally>> {
    let now = ctx.now();
    let groups = facts_store::grouped(&ctx.db, scope, rules.uses("age"), now).await?;
    let mut out: HashMap<Option<i64>, Tally> = HashMap::new();
    for g in groups {
        let facts = facts(g.facts, None, now);
        let t = out.entry(g.zone_id).or_default();
        t.add(rules.colour(&facts), g.n);
        t.place(&facts, g.n);
    }
    Ok(out)
}

/// From → to counts when facts or rules change, evaluated once per distinct set of facts.
pub fn transitions<F>(
    groups: &[FactGroup],
    now: DateTime<Utc>,
    mut before_after: F,
) -> HashMap<(Colour, Colour), i64>
where
    F: FnMut(&Facts) -> (Colour, Colour),
{
    let mut out = HashMap::new();
    for g in groups {
        let (from, to) = before_after(&facts(g.facts.clone(), None, now));
        *out.entry((from, to)).or_insert(0) += g.n;
    }
    out
}
