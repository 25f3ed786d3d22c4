//! Each zone's "must move / sheltered / safe with relatives / not reached" over the last
//! hours: sampled by every server on a fixed grid of periods (the first writer of a period
//! wins), read back for the console's charts.

use super::colour::{active_rules, tally_zones};
use super::{Action, Ctx, Principal, Result, authz};
use crate::store::zone_history::{self, Sample};
use crate::store::zones;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// The start of the sampling period `now` falls in: every server names a period alike.
fn period_start(now: DateTime<Utc>, secs: u32) -> DateTime<Utc> {
    let secs = i64::from(secs.max(1));
    let t = now.timestamp().div_euclid(secs) * secs;
    DateTime::from_timestamp(t, 0).unwrap_or(now)
}

/// Samples every zone once.
pub async fn sample(ctx: &Ctx) -> Result<usize> {
    let rules = active_rules(ctx).await?;
    let tallies = tally_zones(ctx, &rules).await?;
    let at = period_start(ctx.now(), ctx.map.zone_sample_secs);
    let samples: Vec<Sample> = zones::list(&ctx.db)
        .await?
        .into_iter()
        .map(|z| {
            let t = tallies.get(&Some(z.id)).copied().unwrap_or_default();
            Sample {
                zone_id: z.id,
                at,
                must_move: t.red,
                sheltered: t.sheltered,
                safe_with_relatives: t.safe_with_relatives,
                not_reached: t.total() - t.sheltered - t.safe_with_relatives,
            }
        })
        .collect();
    let mut tx = ctx.db.begin().await?;
    zone_history::insert(&mut tx, &samples).await?;
    zone_history::forget_before(&mut tx, at - Duration::days(KEPT_DAYS)).await?;
    tx.commit().await?;
    Ok(samples.len())
}

pub async fn sample_every(ctx: Ctx) {
    let period = std::time::Duration::from_secs(u64::from(ctx.map.zone_sample_secs));
    // The first sample one period after start, not at it: a start (or a restart of several
    // servers) is not the moment to count every zone.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sample(&ctx).await {
            tracing::warn!(error = %e, "could not sample the zones' counts");
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub at: DateTime<Utc>,
    /// Red now: still has to leave.
    pub must_move: i64,
    pub sheltered: i64,
    pub safe_with_relatives: i64,
    /// Neither sheltered nor safe with relatives.
    pub not_reached: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneHistory {
    #[schema(value_type = String, format = Uuid)]
    pub zone_id: Uuid,
    pub points: Vec<Point>,
}

pub const MAX_HOURS: u32 = 72;
/// Samples are kept this long, then forgotten.
pub const KEPT_DAYS: i64 = 7;

/// The zones the caller sees, each with its samples of the last `hours`.
pub async fn history(ctx: &Ctx, p: &Principal, hours: u32) -> Result<Vec<ZoneHistory>> {
    authz::authorize(p, Action::ManageZones)?;
    let since = ctx.now() - Duration::hours(i64::from(hours.clamp(1, MAX_HOURS)));
    let mut by_zone: HashMap<i64, Vec<Point>> = HashMap::new();
    for s in zone_history::since(&ctx.db, since).await? {
        by_zone.entry(s.zone_id).or_default().push(Point {
            at: s.at,
            must_move: s.must_move,
            sheltered: s.sheltered,
            safe_with_relatives: s.safe_with_relatives,
            not_reached: s.not_reached,
        });
    }
    Ok(zones::list(&ctx.db)
        .await?
        .into_iter()
        .filter(|z| super::zones::visible(p, z))
        .map(|z| ZoneHistory {
            zone_id: z.public_id,
            points: by_zone.remove(&z.id).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_name_a_period_alike() {
        let a = DateTime::from_timestamp(1_790_000_123, 0).unwrap();
        let b = DateTime::from_timestamp(1_790_000_299, 0).unwrap();
        assert_eq!(period_start(a, 300), period_start(b, 300));
        assert_eq!(period_start(a, 300).timestamp() % 300, 0);
        assert_ne!(period_start(a, 60), period_start(b, 60));
    }
}
