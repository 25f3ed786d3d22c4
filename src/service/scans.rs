//! Scans checked together: the codes that arrive at one server thread while it is busy are
//! verified as one batch (one Ed25519 batch verification, one database read for all their
//! holders' facts), so under load a scan costs a share of a round trip and less than a whole
//! signature check, and when it is quiet a scan waits for nothing.
//!
//! Each server thread has its own queue and batching task, on its own runtime: a request
//! never crosses to another thread to be checked, and the signature work is spread over the
//! threads as the requests are. No verdict is cached: every scan checks its signature and
//! runs the rules over facts read afresh or, on PostgreSQL, kept by `fresh_facts` and never
//! more than half a second behind the database.

use super::codes::{Scanned, scanned};
use super::colour::active_rules;
use super::{Ctx, Result, ServiceError};
use crate::store::facts as facts_store;
use crate::token::{self, TokenError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// The most codes one batch checks: past this the batch's own latency grows faster than
/// what batch verification saves.
const MAX_BATCH: usize = 64;
/// Batches of one thread in progress at once: one checking signatures while another waits
/// for the database.
const IN_FLIGHT: usize = 2;

/// This server's scan batching: which queues belong to it (one per thread that scanned).
#[derive(Debug, Clone)]
pub struct ScanBatches {
    id: u64,
    enabled: bool,
    counts: Arc<Counts>,
}

/// Scans checked and the batches they were checked in, for `/metrics`.
#[derive(Debug, Default)]
struct Counts {
    scans: AtomicU64,
    batches: AtomicU64,
}

impl ScanBatches {
    /// `enabled: false` checks every scan alone.
    pub fn new(enabled: bool) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            enabled,
            counts: Arc::default(),
        }
    }

    /// Scans checked in batches so far, and the batches.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.scans.load(Ordering::Relaxed),
            self.counts.batches.load(Ordering::Relaxed),
        )
    }
}

/// A code waiting to be checked. `None` in the reply: the batch could not read the database,
/// and the scan is done alone (which reports its own error).
struct Job {
    text: String,
    reply: oneshot::Sender<Option<Result<Scanned>>>,
}

thread_local! {
    /// The queue of each server context this thread scans for.
    static QUEUES: RefCell<Vec<(u64, mpsc::UnboundedSender<Job>)>> = const { RefCell::new(Vec::new()) };
}

/// Checks one scanned code in the next batch of this thread.
pub async fn scan(ctx: &Ctx, text: &str) -> Result<Scanned> {
    if !ctx.scans.enabled {
        return super::codes::scan_one(ctx, text).await;
    }
    let (reply, answer) = oneshot::channel();
    let job = Job {
        text: text.to_owned(),
        reply,
    };
    let queued = QUEUES.with(|q| {
        let mut q = q.borrow_mut();
        let id = ctx.scans.id;
        if let Some((_, tx)) = q.iter().find(|(i, _)| *i == id) {
            match tx.send(job) {
                Ok(()) => return Ok(()),
                // Its task ended with the runtime it ran on: start another on this one.
                Err(mpsc::error::SendError(job)) => {
                    q.retain(|(i, _)| *i != id);
                    return start(ctx, &mut q, job);
                }
            }
        }
        start(ctx, &mut q, job)
    });
    if queued.is_ok()
        && let Ok(Some(answer)) = answer.await
    {
        return answer;
    }
    super::codes::scan_one(ctx, text).await
}

fn start(
    ctx: &Ctx,
    queues: &mut Vec<(u64, mpsc::UnboundedSender<Job>)>,
    job: Job,
) -> std::result::Result<(), ()> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(());
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(job).map_err(|_| ())?;
    queues.push((ctx.scans.id, tx));
    tokio::spawn(run(ctx.clone(), rx));
    Ok(())
}

async fn run(ctx: Ctx, mut rx: mpsc::UnboundedReceiver<Job>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }

        let ctx = ctx.clone();
        tokio::spawn(async move {
            answer(&ctx, jobs).await;
            drop(permit);
        });
    }
}

/// Checks a batch and answers each of its scans.
async fn answer(ctx: &Ctx, jobs: Vec<Job>) {
    ctx.scans
        .counts
        .scans
        .fetch_add(jobs.len() as u64, Ordering::Relaxed);
    ctx.scans.counts.batches.fetch_add(1, Ordering::Relaxed);
    let known = ctx.keys.known();
    let now = ctx.now();
    let texts: Vec<&str> = jobs.iter().map(|j| j.text.trim()).collect();
    let checked = token::verify_many(
        &texts,
        |kid| crate::token::keys_with(&known, kid),
        now.timestamp(),
    );
    let subjects: Vec<std::result::Result<(token::Verified, uuid::Uuid), TokenError>> = checked
        .into_iter()
        .map(|c| {
            let v = c?;
            let id = uuid::Uuid::parse_str(&v.claims.subject).map_err(|_| TokenError::Malformed)?;
            Ok((v, id))
        })
        .collect();
    let mut wanted: Vec<uuid::Uuid> = subjects
        .iter()
        .filter_map(|s| s.as_ref().ok().map(|(_, id)| *id))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let read = async {
        let rules = active_rules(ctx).await?;
        let rows = if wanted.is_empty() {
            Vec::new()
        } else {
            let (db, on_replica) = ctx.reader();
            // Facts kept from the primary are as fresh as a replica's, fresher than its
            // bound; a replica's own reads are never kept (its lag is not in the feed's order).
            let kept = ctx.fresh_facts.as_deref().filter(|_| !on_replica);
            let ticket = kept.map(|k| k.ticket());
            let (mut rows, missing) = match kept.and_then(|k| k.get(&wanted, now)) {
                Some((hits, misses)) => (hits, misses),
                None => (Vec::new(), wanted.clone()),
            };
            if !missing.is_empty() {
                match facts_store::of_scanned(db, &missing, now).await {
                    Ok(read) => {
                        if let (Some(k), Some(ticket)) = (kept, ticket) {
                            k.keep(ticket, &read, now);
                        }
                        rows.extend(read);
                    }
                    Err(e) => {
                        // Each scan then goes down the single path, on the primary.
                        if on_replica {
                            ctx.replica_failed();
                        }
                        return Err(e.into());
                    }
                }
            }
            rows
        };
        Ok::<_, ServiceError>((rules, rows))
    };
    let Ok((rules, rows)) = read.await else {
        for j in jobs {
            let _ = j.reply.send(None);
        }
        return;
    };
    let by_id: HashMap<uuid::Uuid, facts_store::ResidentFacts> =
        rows.into_iter().map(|r| (r.public_id, r)).collect();
    for (job, subject) in jobs.into_iter().zip(subjects) {
        let result = match subject {
            Err(e) => Err(ServiceError::InvalidCode(e.code())),
            Ok((v, id)) => match by_id.get(&id) {
                // The same holder twice in one batch: both get the same facts.
                Some(f) => Ok(scanned(v, id, f.clone(), &rules, now)),
                None => Err(ServiceError::InvalidCode("unknown_resident")),
            },
        };
        let _ = job.reply.send(Some(result));
    }
}
