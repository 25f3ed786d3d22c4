//! A streaming replica of the primary for the reads that may be a moment old (a scan's facts,
//! status list builds), used only while its lag is bounded: a probe compares the replica's
//! replayed WAL position with the primary's, every [`PROBE`], and a read goes to the primary
//! whenever the replica is further behind than the bound or answers with an error.
//!
//! How old a read from the replica can be: the replica had replayed everything the primary
//! had written at some sample time `t`, and `now − t ≤ max_lag` when the last probe ran; the
//! next probe comes within [`PROBE`]. So a colour read there is at most `max_lag + PROBE` old
//! (600 ms by default) — within the second a colour may be old.

use super::{Db, Result};
use crate::config::DatabaseUrl;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const PROBE: Duration = Duration::from_millis(100);

/// How far back primary positions are remembered: a replica behind all of them is "too far".
const SAMPLES: usize = 600;

#[derive(Debug)]
pub struct Replica {
    db: Db,
    max_lag: Duration,
    fresh: AtomicBool,
    /// The last measured lag in milliseconds (-1: unknown or not a replica).
    lag_ms: AtomicI64,
    pub reads: AtomicU64,
    pub fallbacks: AtomicU64,
}

impl Replica {
    pub async fn connect(url: &str, max_connections: u32, max_lag: Duration) -> Result<Replica> {
        let db = Db::connect_with(
            &DatabaseUrl::Postgres(url.to_owned()),
            max_connections,
            crate::config::SqliteSync::Full,
        )
        .await?;
        Ok(Replica {
            db,
            max_lag,
            fresh: AtomicBool::new(false),
            lag_ms: AtomicI64::new(-1),
            reads: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// The replica, when it is close enough behind the primary to read from.
    pub fn if_fresh(&self) -> Option<&Db> {
        if self.fresh.load(Ordering::Acquire) {
            self.reads.fetch_add(1, Ordering::Relaxed);
            Some(&self.db)
        } else {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// A read from the replica failed: use the primary until the next probe says otherwise.
    pub fn failed(&self) {
        self.fresh.store(false, Ordering::Release);
    }

    pub fn lag_ms(&self) -> i64 {
        self.lag_ms.load(Ordering::Relaxed)
    }

    pub fn is_fresh(&self) -> bool {
        self.fresh.load(Ordering::Relaxed)
    }

    /// Probes the lag until the process ends.
    pub async fn watch(self: Arc<Self>, primary: Db) {
        let mut samples: VecDeque<(Instant, u64)> = VecDeque::with_capacity(SAMPLES);
        let mut tick = tokio::time::interval(PROBE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // The primary first: whatever the replica has replayed after this was written
            // before it.
            let sampled = Instant::now();
            let (Ok(p), Ok(r)) = (
                position(&primary, "pg_current_wal_lsn()").await,
                position(&self.db, "pg_last_wal_replay_lsn()").await,
            ) else {
                self.mark(None);
                continue;
            };
            if samples.len() == SAMPLES {
                samples.pop_front();
            }
            samples.push_back((sampled, p.unwrap_or(0)));
            // `None` from the replica: not in recovery, so not a replica of anything.
            let lag = r.and_then(|r| {
                samples
                    .iter()
                    .rev()
                    .find(|(_, lsn)| *lsn <= r)
                    .map(|(at, _)| at.elapsed())
            });
            self.mark(lag);
        }
    }

    fn mark(&self, lag: Option<Duration>) {
        match lag {
            Some(l) => {
                self.lag_ms.store(
                    i64::try_from(l.as_millis()).unwrap_or(i64::MAX),
                    Ordering::Relaxed,
                );
                self.fresh.store(l <= self.max_lag, Ordering::Release);
            }
            None => {
                self.lag_ms.store(-1, Ordering::Relaxed);
                self.fresh.store(false, Ordering::Release);
            }
        }
    }
}

/// A WAL position as a number (`X/Y` in hex), `None` when PostgreSQL has none to give.
async fn position(db: &Db, function: &'static str) -> Result<Option<u64>> {
    let Db::Postgres(pool) = db else {
        return Ok(None);
    };
    let text: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST({function} AS TEXT)"
    )))
    .fetch_one(pool)
    .await?;
    Ok(text.as_deref().and_then(parse_lsn))
}

fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::parse_lsn;

    #[test]
    fn wal_positions_order_as_numbers() {
        assert_eq!(parse_lsn("0/3000000"), Some(0x300_0000));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("1/0").unwrap() > parse_lsn("0/FFFFFFFF").unwrap());
        assert_eq!(parse_lsn("nonsense"), None);
    }
}
