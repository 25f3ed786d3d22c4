//! The facts of the residents this server scanned lately (PostgreSQL), kept true by the
//! database's change feed (`store::facts_feed`), so that a scan of someone scanned a moment
//! ago costs no round trip. Only facts are kept, never a verdict: every scan still checks its
//! signature and runs the rules.
//!
//! Why a kept fact is never more than [`CAUGHT_UP_WITHIN`] old:
//! - every statement that changes a fact announces whose at commit (triggers), and PostgreSQL
//!   delivers announcements in commit order;
//! - this server sends itself a heartbeat through the database every [`HEARTBEAT`]; hearing
//!   heartbeat `n`, sent at `t`, means every change committed before `t` has been applied. A
//!   kept fact is used only while the last heartbeat heard was sent less than
//!   [`CAUGHT_UP_WITHIN`] ago, so when the feed is lost or slow scans read the database;
//! - facts read by a query that started before an announcement about them are not kept (a
//!   ticket taken before the read, compared with the announcement's sequence number);
//! - orders and overrides also end by time: facts are kept only until the next expiry of any
//!   order or override in force, read again whenever an order or approval changes;
//! - this server's own writes: a kept fact is not used until a heartbeat sent after this
//!   server's last commit has come back, so whoever changed something here sees it at the next
//!   scan here, not a moment later.

use crate::store::facts::ResidentFacts;
use crate::store::facts_feed::{self, Change, Listener};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use uuid::Uuid;

/// A kept fact is used only while every change committed this long ago has been applied.
pub const CAUGHT_UP_WITHIN: Duration = Duration::from_millis(500);
const HEARTBEAT: Duration = Duration::from_millis(100);
/// Announcements remembered for the reads in flight; past this, every read that started before
/// is refused (rare: a read takes milliseconds).
const REMEMBERED: usize = 100_000;

#[derive(Debug)]
pub struct FreshFacts {
    server: u64,
    /// This server's commits on the primary (`store::commits_of`).
    commits: crate::store::Commits,
    /// Residents kept per generation (two generations: the one filling and the one before).
    capacity: usize,
    state: Mutex<State>,
    /// Messages applied so far; a read takes it as its ticket before it starts.
    applied: AtomicU64,
    /// Send a heartbeat now (a scan is waiting for this server's own write to be applied).
    nudge: Notify,
    /// Read the next expiry again.
    expiries: Notify,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Scans that could not use kept facts (feed not caught up, a write of this server's in
    /// flight, an expiry not yet read).
    pub bypassed: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    current: HashMap<Uuid, ResidentFacts>,
    previous: HashMap<Uuid, ResidentFacts>,
    /// Residents announced lately, with the message that did it.
    announced: HashMap<Uuid, u64>,
    /// A read whose ticket is older than this message keeps nothing.
    floor: u64,
    next_heartbeat: u64,
    /// Heartbeats sent, not yet heard: (n, sent at, this process's commits then).
    pending: VecDeque<(u64, Instant, u64)>,
    /// The last heartbeat heard: when it was sent and this process's commits then.
    caught_up: Option<(Instant, u64)>,
    /// Facts kept hold until then; `None`: not known (nothing is kept or used).
    until: Option<DateTime<Utc>>,
    /// Bumped whenever `until` must be read again.
    times: u64,
}

impl FreshFacts {
    pub fn new(capacity: usize, commits: crate::store::Commits) -> Arc<FreshFacts> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Distinct across processes too: heartbeats of other servers are heard and ignored.
        let server = (u64::from(std::process::id()) << 20) ^ NEXT.fetch_add(1, Ordering::Relaxed);
        Arc::new(FreshFacts {
            server,
            commits,
            capacity: capacity.max(1),
            state: Mutex::default(),
            applied: AtomicU64::new(0),
            nudge: Notify::new(),
            expiries: Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves maps that are merely incomplete.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken before reading the database for [`FreshFacts::keep`].
    pub fn ticket(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Residents kept now (both generations).
    pub fn kept(&self) -> usize {
        let st = self.lock();
        st.current.len() + st.previous.len()
    }

    fn feed_current(st: &State) -> bool {
        st.caught_up
            .is_some_and(|(at, _)| at.elapsed() < CAUGHT_UP_WITHIN)
    }

    /// The kept facts of `ids` and the ids not kept; `None` when nothing kept may be used now
    /// (then read them all).
    pub fn get(&self, ids: &[Uuid], now: DateTime<Utc>) -> Option<(Vec<ResidentFacts>, Vec<Uuid>)> {
        let mut st = self.lock();
        match st.until {
            Some(until) if now < until => {}
            Some(_) => {
                // An order or override kept facts counted on has ended: start afresh.
                self.drop_all(&mut st);
                st.until = None;
                st.times += 1;
                self.expiries.notify_one();
                self.bypassed.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            None => {
                self.bypassed.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
        if !Self::feed_current(&st) {
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if st
            .caught_up
            .is_some_and(|(_, commits)| commits != self.commits.load(Ordering::Acquire))
        {
            self.nudge.notify_one();
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut hits = Vec::with_capacity(ids.len());
        let mut misses = Vec::new();
        for id in ids {
            if let Some(f) = st.current.get(id) {
                hits.push(f.clone());
            } else if let Some(f) = st.previous.remove(id) {
                hits.push(f.clone());
                self.put(&mut st, *id, f);
            } else {
                misses.push(*id);
            }
        }
        self.hits.fetch_add(hits.len() as u64, Ordering::Relaxed);
        self.misses
            .fetch_add(misses.len() as u64, Ordering::Relaxed);
        Some((hits, misses))
    }

    /// Keeps facts read from the primary by a read that took `ticket` before it started,
    /// unless anything announced since could have changed them.
    pub fn keep(&self, ticket: u64, rows: &[ResidentFacts], now: DateTime<Utc>) {
        let mut st = self.lock();
        if st.until.is_none_or(|u| now >= u) || !Self::feed_current(&st) || ticket < st.floor {
            return;
        }
        for row in rows {
            if st
                .announced
                .get(&row.public_id)
                .is_some_and(|seq| *seq > ticket)
            {
                continue;
            }
            self.put(&mut st, row.public_id, row.clone());
        }
    }

    fn put(&self, st: &mut State, id: Uuid, f: ResidentFacts) {
        if st.current.len() >= self.capacity {
            st.previous = std::mem::take(&mut st.current);
        }
        st.current.insert(id, f);
    }

    fn drop_all(&self, st: &mut State) {
        st.current.clear();
        st.previous.clear();
        st.announced.clear();
        let seq = self.applied.fetch_add(1, Ordering::AcqRel) + 1;
        st.floor = seq;
    }

    /// Applies one message of the feed.
    fn apply(&self, change: Change) {
        let mut st = self.lock();
        match change {
            Change::Heartbeat(server, n) => {
                if server != self.server {
                    return;
                }
                while let Some(&(m, sent, commits)) = st.pending.front() {
                    if m > n {
                        break;
                    }
                    st.pending.pop_front();
                    if m == n {
                        st.caught_up = Some((sent, commits));
                    }
                }
            }
            Change::Everyone { times } => {
                self.drop_all(&mut st);
                if times {
                    self.times_moved(&mut st);
                }
            }
            Change::Residents { ids, times } => {
                let seq = self.applied.fetch_add(1, Ordering::AcqRel) + 1;
                for id in ids {
                    st.current.remove(&id);
                    st.previous.remove(&id);
                    st.announced.insert(id, seq);
                }
                if st.announced.len() > REMEMBERED {
                    st.announced.clear();
                    st.floor = seq;
                }
                if times {
                    self.times_moved(&mut st);
                }
            }
        }
    }

    fn times_moved(&self, st: &mut State) {
        st.until = None;
        st.times += 1;
        self.expiries.notify_one();
    }

    /// The feed was lost: messages may have been missed, so nothing kept is true any more.
    fn lost(&self) {
        let mut st = self.lock();
        self.drop_all(&mut st);
        st.caught_up = None;
        st.pending.clear();
        self.times_moved(&mut st);
    }

    /// Listens, heartbeats and reads expiries until the process ends.
    pub fn start(self: &Arc<Self>, pool: PgPool) {
        tokio::spawn(listen(self.clone(), pool.clone()));
        tokio::spawn(heartbeats(self.clone(), pool.clone()));
        tokio::spawn(expiries(self.clone(), pool));
    }
}

async fn listen(ff: Arc<FreshFacts>, pool: PgPool) {
    loop {
        match Listener::connect(&pool).await {
            Ok(mut l) => {
                ff.nudge.notify_one();
                while let Some(payload) = l.next().await {
                    ff.apply(Change::parse(&payload));
                }
                tracing::warn!("the facts feed was lost; scans read the database until it is back");
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen to the facts feed"),
        }
        ff.lost();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn heartbeats(ff: Arc<FreshFacts>, pool: PgPool) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = ff.nudge.notified() => {}
        }
        let n = {
            let mut st = ff.lock();
            let n = st.next_heartbeat;
            st.next_heartbeat += 1;
            // Commits counted before the heartbeat leaves: those are applied when it is heard.
            st.pending
                .push_back((n, Instant::now(), ff.commits.load(Ordering::Acquire)));
            while st.pending.len() > 64 {
                st.pending.pop_front();
            }
            n
        };
        if let Err(e) = facts_feed::send(&pool, &Change::heartbeat(ff.server, n)).await {
            tracing::debug!(error = %e, "facts feed heartbeat not sent");
            tokio::time::sleep(HEARTBEAT).await;
        }
    }
}

async fn expiries(ff: Arc<FreshFacts>, pool: PgPool) {
    loop {
        let (times, known) = {
            let st = ff.lock();
            (st.times, st.until.is_some())
        };
        if !known {
            match facts_feed::next_expiry(&pool, Utc::now()).await {
                Ok(next) => {
                    let mut st = ff.lock();
                    // Read after the announcement that asked for it: it saw that change.
                    if st.times == times {
                        st.until = Some(next.unwrap_or(DateTime::<Utc>::MAX_UTC));
                    } else {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "next expiry not read");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), ff.expiries.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::facts::FactRow;
    use sqlx::types::Json;

    fn facts(id: Uuid) -> ResidentFacts {
        ResidentFacts {
            id: 1,
            public_id: id,
            head_id: None,
            id_last4: String::new(),
            facts: FactRow {
                needs: Json(vec![]),
                flags: Json(vec![]),
                birth_year: None,
                level: 0,
                override_colour: None,
                sheltered: 0,
                safe: 0,
            },
            override_reason: None,
            holders: 1,
        }
    }

    /// A cache that has heard its heartbeat just now and knows no expiry.
    fn caught_up() -> Arc<FreshFacts> {
        let ff = FreshFacts::new(10, Default::default());
        {
            let mut st = ff.lock();
            st.pending.push_back((0, Instant::now(), 0));
            st.until = Some(DateTime::<Utc>::MAX_UTC);
        }
        ff.apply(Change::Heartbeat(ff.server, 0));
        ff
    }

    #[test]
    fn nothing_is_used_before_the_feed_is_heard() {
        let ff = FreshFacts::new(10, Default::default());
        let id = Uuid::new_v4();
        ff.keep(ff.ticket(), &[facts(id)], Utc::now());
        assert!(ff.get(&[id], Utc::now()).is_none());
        assert_eq!(ff.kept(), 0);
    }

    #[test]
    fn an_announcement_during_a_read_keeps_that_read_out() {
        let ff = caught_up();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ticket = ff.ticket();
        ff.apply(Change::Residents {
            ids: vec![a],
            times: false,
        });
        ff.keep(ticket, &[facts(a), facts(b)], Utc::now());
        let (hits, misses) = ff.get(&[a, b], Utc::now()).unwrap();
        assert_eq!(misses, vec![a]);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].public_id, b);
        // Announced after it was kept: dropped.
        ff.apply(Change::Residents {
            ids: vec![b],
            times: false,
        });
        assert_eq!(ff.get(&[b], Utc::now()).unwrap().1, vec![b]);
        // Everyone: a read that started before keeps nothing, one after does.
        let before = ff.ticket();
        ff.apply(Change::Everyone { times: false });
        ff.keep(before, &[facts(b)], Utc::now());
        assert_eq!(ff.kept(), 0);
        ff.keep(ff.ticket(), &[facts(b)], Utc::now());
        assert_eq!(ff.kept(), 1);
    }

    #[test]
    fn a_passed_expiry_or_a_lost_feed_drops_everything() {
        let ff = caught_up();
        let id = Uuid::new_v4();
        let now = Utc::now();
        ff.lock().until = Some(now + chrono::Duration::seconds(1));
        ff.keep(ff.ticket(), &[facts(id)], now);
        assert_eq!(ff.get(&[id], now).unwrap().0.len(), 1);
        assert!(ff.get(&[id], now + chrono::Duration::seconds(1)).is_none());
        assert_eq!(ff.kept(), 0);

        let ff = caught_up();
        ff.keep(ff.ticket(), &[facts(id)], now);
        assert_eq!(ff.kept(), 1);
        ff.lost();
        assert_eq!(ff.kept(), 0);
        assert!(ff.get(&[id], now).is_none());
    }

    #[test]
    fn an_expiry_moved_is_read_again_before_anything_is_kept() {
        let ff = caught_up();
        let id = Uuid::new_v4();
        ff.apply(Change::Residents {
            ids: vec![],
            times: true,
        });
        ff.keep(ff.ticket(), &[facts(id)], Utc::now());
        assert_eq!(ff.kept(), 0);
        assert!(ff.get(&[id], Utc::now()).is_none());
    }

    #[test]
    fn a_write_here_is_seen_by_the_next_scan_here() {
        let ff = caught_up();
        let id = Uuid::new_v4();
        ff.keep(ff.ticket(), &[facts(id)], Utc::now());
        assert!(ff.get(&[id], Utc::now()).is_some());
        ff.commits.fetch_add(1, Ordering::AcqRel);
        assert!(ff.get(&[id], Utc::now()).is_none());
    }

    #[test]
    fn two_generations_bound_what_is_kept() {
        let ff = caught_up();
        let ids: Vec<Uuid> = (0..25).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            ff.keep(ff.ticket(), &[facts(*id)], Utc::now());
        }
        assert!(ff.kept() <= 20, "{}", ff.kept());
    }
}
