//! Admissions are written by one task per process, in batches. A desk's request is checked
//! where it arrives (code, shelter, colours), then queued; the writer takes whatever has queued
//! up, up to [`MAX_BATCH`], and writes it in one transaction with a handful of statements
//! whatever its size: the stays in one INSERT that the partial unique index filters (one open
//! stay per resident), the places of each shelter in one conditional UPDATE
//! (`occupancy + n <= capacity`; when not all fit, one such UPDATE per admission, in order),
//! the audit entries in three, one commit. On SQLite, where writes are serial, that turns a
//! commit and half a dozen statements per admission into a few per batch. Every limit is
//! still one atomic statement, so it holds across servers as before.
//!
//! A refused admission takes back what it wrote (its stays, its idempotency claim) before the
//! batch commits, so it leaves nothing, as a rolled-back transaction would. If the batch
//! itself fails (a database error, a deadlock between servers), each admission in it is
//! written alone, so one bad request cannot fail its neighbours.

use super::idempotency::{self, Once, Ticket};
use super::{Result, ServiceError};
use crate::domain::{AuditDraft, Colour, Location, Need};
use crate::store::{self, Db, Tx, audit, shelters};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Enough to amortise a commit, small enough that the first in line is not kept long.
pub const MAX_BATCH: usize = 64;
const QUEUE: usize = 4096;

/// One person to admit, with their colour before and after being sheltered.
#[derive(Debug, Clone)]
pub struct Member {
    pub internal: i64,
    pub public: Uuid,
    pub before: Colour,
    pub after: Colour,
    pub needs: Vec<Need>,
}

/// A checked admission, ready to write.
#[derive(Debug, Clone)]
pub struct Plan {
    pub shelter: shelters::ShelterRef,
    pub shelter_public: Uuid,
    pub actor: String,
    /// The scanned person first, then the dependents admitted with them.
    pub members: Vec<Member>,
    /// (scope, key, request hash)
    pub idempotency: Option<(String, String, [u8; 32])>,
}

struct Job {
    plan: Plan,
    reply: oneshot::Sender<Result<Admission>>,
}

/// The handle requests use to queue an admission; cheap to clone.
#[derive(Clone, Debug)]
pub struct AdmissionWriter {
    queue: mpsc::Sender<Job>,
    /// Shelters by public id. A shelter's row id and location never change, and nothing
    /// here reads its status or counts, so an entry never goes stale.
    shelters: Arc<RwLock<HashMap<Uuid, shelters::ShelterRef>>>,
}

/// Shelters remembered per process; beyond this the map starts again.
const SHELTERS_REMEMBERED: usize = 10_000;

impl AdmissionWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
        AdmissionWriter {
            queue,
            shelters: Arc::default(),
        }
    }

    /// The shelter an admission is for: its row id and location.
    pub async fn shelter(&self, db: &Db, id: Uuid) -> Result<Option<shelters::ShelterRef>> {
        if let Some(s) = self.shelters.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(Some(s));
        }
        let found = shelters::locate_in(db, id).await?;
        if let (Some(s), Ok(mut m)) = (&found, self.shelters.write()) {
            if m.len() >= SHELTERS_REMEMBERED {
                m.clear();
            }
            m.insert(id, s.clone());
        }
        Ok(found)
    }

    /// Queues `plan` and waits for its answer.
    pub async fn admit(&self, plan: Plan) -> Result<Admission> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ServiceError::Store(store::StoreError::Stopped("the admission writer"));
        self.queue
            .send(Job { plan, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut waiting: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        if waiting.is_empty() {
            if rx.recv_many(&mut waiting, MAX_BATCH).await == 0 {
                return;
            }
        } else {
            while waiting.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => waiting.push(job),
                    Err(_) => break,
                }
            }
        }
        // A key repeated within one batch waits for the next, where it finds the first
        // one's answer (or, if that was refused, is judged afresh), as a retry would.
        let mut keys = HashSet::new();
        let (jobs, later): (Vec<Job>, Vec<Job>) = waiting.drain(..).partition(|j| {
            j.plan
                .idempotency
                .as_ref()
                .is_none_or(|(scope, key, _)| keys.insert((scope.clone(), key.clone())))
        });
        waiting = later;
        write_and_answer(&db, jobs).await;
    }
}

async fn write_and_answer(db: &Db, mut jobs: Vec<Job>) {
    let plans: Vec<&Plan> = jobs.iter().map(|j| &j.plan).collect();
    match write(db, &plans).await {
        Ok(answers) => {
            for (job, answer) in jobs.drain(..).zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) if jobs.len() == 1 => {
            if let Some(job) = jobs.pop() {
                let _ = job.reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, size = jobs.len(), "admission batch failed; writing one by one");
            for job in jobs {
                let answer = match write(db, &[&job.plan]).await {
                    Ok(mut a) => {
                        a.pop()
                            .unwrap_or(Err(ServiceError::Store(store::StoreError::Corrupt(
                                "an empty batch answer".into(),
                            ))))
                    }
                    Err(e) => Err(e),
                };
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// Writes `plans` in one transaction: the outer error means nothing was written. In order:
/// idempotency claims, every stay in one INSERT (the unique index refuses a second open
/// stay), the places per shelter in one conditional UPDATE (or one per admission when not
/// all of them fit), refusals taken back, then the audit entries and stored answers.
async fn write(db: &Db, plans: &[&Plan]) -> Result<Vec<Result<Admission>>> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let mut answers: Vec<Option<Result<Admission>>> = plans.iter().map(|_| None).collect();
    let mut tickets: Vec<Option<Ticket>> = plans.iter().map(|_| None).collect();

    for (i, plan) in plans.iter().enumerate() {
        if let Some((scope, key, hash)) = &plan.idempotency {
            match idempotency::begin_hashed(&mut tx, scope, key, hash, now).await {
                Ok(Once::Go(ticket)) => tickets[i] = Some(ticket),
                Ok(Once::Replay(first)) => answers[i] = Some(Ok(first)),
                Err(e @ (ServiceError::Store(_) | ServiceError::Internal(_))) => return Err(e),
                Err(refused) => answers[i] = Some(Err(refused)),
            }
        }
    }

    let stay_ids: Vec<Vec<Uuid>> = plans
        .iter()
        .map(|p| p.members.iter().map(|_| Uuid::new_v4()).collect())
        .collect();
    let mut rows = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if answers[i].is_none() {
            for (m, id) in plan.members.iter().zip(&stay_ids[i]) {
                rows.push(shelters::NewStay {
                    public_id: *id,
                    shelter_id: plan.shelter.id,
                    resident_id: m.internal,
                    colour_at_entry: m.before.code() as i32,
                    by: &plan.actor,
                });
            }
        }
    }
    let opened: HashSet<Uuid> = shelters::open_stays(&mut tx, &rows, now)
        .await?
        .into_iter()
        .collect();
    let mut undo = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if answers[i].is_some() {
            continue;
        }
        let missing = plan
            .members
            .iter()
            .zip(&stay_ids[i])
            .find(|(_, id)| !opened.contains(id));
        if let Some((m, _)) = missing {
            answers[i] = Some(Err(already_sheltered(&mut tx, m.internal).await?));
            undo.push(i);
        }
    }

    // Shelters in the order they first appear, each with its admissions in order.
    let mut by_shelter: Vec<(i64, Vec<usize>)> = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if answers[i].is_some() {
            continue;
        }
        match by_shelter.iter_mut().find(|(s, _)| *s == plan.shelter.id) {
            Some((_, v)) => v.push(i),
            None => by_shelter.push((plan.shelter.id, vec![i])),
        }
    }
    let mut placed: Vec<Option<(i32, i32)>> = plans.iter().map(|_| None).collect();
    for (shelter, idx) in &by_shelter {
        let size = |i: &usize| plans[*i].members.len() as i32;
        let n: i32 = idx.iter().map(size).sum();
        if let Some((occupancy, capacity)) = shelters::take_places(&mut tx, *shelter, n).await? {
            let mut after = occupancy - n;
            for i in idx {
                after += size(i);
                placed[*i] = Some((after, capacity));
            }
            continue;
        }
        for i in idx {
            match shelters::take_places(&mut tx, *shelter, size(i)).await? {
                Some(p) => placed[*i] = Some(p),
                None => {
                    answers[*i] = Some(Err(no_room(&mut tx, plans[*i]).await?));
                    undo.push(*i);
                }
            }
        }
    }

    for i in undo {
        let ours: Vec<Uuid> = stay_ids[i]
            .iter()
            .filter(|id| opened.contains(id))
            .copied()
            .collect();
        shelters::unopen_stays(&mut tx, &ours).await?;
        if let Some(ticket) = &tickets[i] {
            ticket.release(&mut tx).await?;
        }
    }

    let mut drafts = Vec::new();
    let mut out = Vec::with_capacity(plans.len());
    for (i, plan) in plans.iter().enumerate() {
        let answer = match (answers[i].take(), placed[i]) {
            (Some(decided), _) => decided,
            (None, Some((occupancy, capacity))) => {
                let a = admitted(plan, &stay_ids[i], occupancy, capacity, &mut drafts)?;
                if let Some(ticket) = &tickets[i] {
                    ticket.complete(&mut tx, 201, &a).await?;
                }
                Ok(a)
            }
            (None, None) => Err(store::StoreError::Corrupt(
                "an admission neither placed nor refused".into(),
            )
            .into()),
        };
        out.push(answer);
    }
    audit::append_many(&mut tx, &drafts, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// Why an admission found no place: the shelter is closed, or full (with where to go).
async fn no_room(tx: &mut Tx, plan: &Plan) -> Result<ServiceError> {
    let closed = shelters::locate(tx, plan.shelter_public)
        .await?
        .is_some_and(|s| s.status == "closed");
    Ok(if closed {
        ServiceError::Conflict {
            code: "shelter_closed",
            detail: "this shelter is closed".into(),
        }
    } else {
        shelter_full(tx, &plan.shelter, plan.members.len() as i32).await?
    })
}

/// The answer to an admission that got its places, and its audit entries.
fn admitted(
    plan: &Plan,
    stay_ids: &[Uuid],
    occupancy: i32,
    capacity: i32,
    drafts: &mut Vec<AuditDraft>,
) -> Result<Admission> {
    let mut members = Vec::with_capacity(stay_ids.len());
    for (m, stay_id) in plan.members.iter().zip(stay_ids) {
        drafts.push(
            AuditDraft::new(plan.actor.clone(), "shelter.checkin")
                .subject(format!("resident:{}", m.public))
                .before(json!({"colour": m.before}))
                .after(json!({"colour": m.after, "shelter": plan.shelter_public, "stay": stay_id})),
        );
        members.push(AdmittedMember {
            resident_id: m.public,
            stay_id: *stay_id,
            colour: m.after,
            needs: m.needs.clone(),
        });
    }
    let mut members = members.into_iter();
    let head = members
        .next()
        .ok_or_else(|| store::StoreError::Corrupt("an admission without a resident".into()))?;
    Ok(Admission {
        stay_id: head.stay_id,
        occupancy,
        capacity,
        colour: head.colour,
        needs: head.needs,
        dependents: members.collect(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdmittedMember {
    #[schema(value_type = String, format = Uuid)]
    pub resident_id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub stay_id: Uuid,
    /// The colour now that they are sheltered.
    pub colour: Colour,
    pub needs: Vec<Need>,
}

/// The answer to an admission; stored whole for an idempotent retry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Admission {
    #[schema(value_type = String, format = Uuid)]
    pub stay_id: Uuid,
    pub occupancy: i32,
    pub capacity: i32,
    /// The scanned resident's colour now that they are sheltered.
    pub colour: Colour,
    pub needs: Vec<Need>,
    /// Dependents admitted with the head of the household (`include_dependents`).
    pub dependents: Vec<AdmittedMember>,
}

async fn already_sheltered(tx: &mut store::Tx, resident: i64) -> Result<ServiceError> {
    let mut extensions = serde_json::Map::new();
    if let Some(st) = shelters::open_stay_of(tx, resident).await? {
        extensions.insert(
            "sheltered_at".into(),
            json!({"shelter_id": st.shelter_id, "name": st.shelter_name, "since": st.since, "stay_id": st.stay_id}),
        );
    }
    Ok(ServiceError::ConflictWith {
        code: "already_sheltered",
        detail: "this resident is already admitted to a shelter; check them out there first".into(),
        extensions,
    })
}

async fn shelter_full(
    tx: &mut store::Tx,
    row: &shelters::ShelterRef,
    wanted: i32,
) -> Result<ServiceError> {
    let nearest: Vec<serde_json::Value> =
        shelters::nearest_with_room(tx, row.lat, row.lon, row.id, 3)
            .await?
            .into_iter()
            .map(|(id, name, lat, lon, free)| {
                let d = crate::geo::distance_km(
                    Location {
                        lat: row.lat,
                        lon: row.lon,
                    },
                    Location { lat, lon },
                );
                json!({"id": id, "name": name, "location": {"lat": lat, "lon": lon}, "free": free,
                   "distance_km": (d * 1000.0).round() / 1000.0})
            })
            .collect();
    let mut extensions = serde_json::Map::new();
    extensions.insert("nearest_shelters".into(), json!(nearest));
    Ok(ServiceError::ConflictWith {
        code: "shelter_full",
        detail: format!("this shelter has no room for {wanted} more; nearest_shelters have room"),
        extensions,
    })
}
