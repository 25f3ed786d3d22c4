//! Codes by the thousand: the printed codes of a zone, an incident or a list of residents as
//! one PDF for a print shop, produced page by page while it downloads. Each card's code lives
//! for the season; its colour is always looked up when scanned, never read off the paper.

use super::codes::issue_for;
use super::{Action, Ctx, Principal, Result, ServiceError, authz};
use crate::domain::resident::{masked_latin, masked_name};
use crate::domain::{AuditDraft, Invalid, Location};
use crate::print::{CARDS_PER_PAGE, Card, SheetWriter};
use crate::store::residents::{self, ResidentRecord};
use crate::store::{audit, orders};
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

/// A print shop's batch is at most this many cards; a larger area is printed in parts.
pub const MAX_CARDS: usize = 20_000;

/// Batches laid out at once by one server: each keeps a core busy for seconds, so one
/// official (or a stolen session) cannot starve the rest of the service by asking for many.
const AT_ONCE: usize = 2;
static PRINTING: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE)));

/// The font the cards' text is set in (a subset of it is embedded in each PDF).
static FONT: &[u8] = include_bytes!("../../fonts/wqy-microhei.ttc");

/// Whose codes to print: exactly one of a zone, an incident (every zone its orders cover), or
/// a list of residents (from a CSV file the console reads).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintForm {
    #[schema(value_type = Option<String>, format = Uuid)]
    pub zone: Option<Uuid>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident: Option<Uuid>,
    #[schema(value_type = Option<Vec<String>>)]
    pub residents: Option<Vec<Uuid>>,
}

/// A batch ready to stream: who, and what to call the file.
pub struct Batch {
    people: Vec<ResidentRecord>,
    pub file_name: String,
    /// Held until the last page is written.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }
}

fn in_reach(p: &Principal, r: &ResidentRecord) -> bool {
    authz::ensure_resident_in_jurisdiction(p, Location::from_columns(r.lat, r.lon)).is_ok()
}

/// Checks the request, gathers the residents and audits the batch (who printed how many
/// codes of what); nothing personal goes into the audit entry.
pub async fn prepare(ctx: &Ctx, p: &Principal, f: &PrintForm) -> Result<Batch> {
    authz::authorize(p, Action::ReadResident)?;
    let (scope, file_name, people) = match (f.zone, f.incident, &f.residents) {
        (Some(zone), None, None) => {
            let z = super::orders::zone_in_reach(ctx, p, zone).await?;
            let people = residents::in_zone(&ctx.db, z.id).await?;
            (format!("zone:{zone}"), format!("zone-{zone}"), people)
        }
        (None, Some(incident), None) => {
            let i = orders::incident(&ctx.db, incident)
                .await?
                .ok_or(ServiceError::NotFound("incident"))?;
            // An incident crosses districts: an official prints their own district's part.
            let people = residents::in_incident(&ctx.db, i.id)
                .await?
                .into_iter()
                .filter(|r| in_reach(p, r))
                .collect();
            (
                format!("incident:{incident}"),
                format!("incident-{incident}"),
                people,
            )
        }
        (None, None, Some(ids)) => {
            if ids.len() > MAX_CARDS {
                return Err(too_many(ids.len()));
            }
            let mut people = Vec::with_capacity(ids.len());
            for (row, id) in ids.iter().enumerate() {
                let r = residents::by_public_id(&ctx.db, *id)
                    .await?
                    .ok_or_else(|| {
                        Invalid::new(
                            "residents",
                            "unknown_resident",
                            format!("entry {} names no registered resident", row + 1),
                        )
                    })?;
                if !in_reach(p, &r) {
                    return Err(ServiceError::OutsideJurisdiction);
                }
                people.push(r);
            }
            people.sort_by_key(|r| r.id);
            people.dedup_by_key(|r| r.id);
            ("list".to_owned(), "list".to_owned(), people)
        }
        _ => {
            return Err(Invalid::new(
                "zone",
                "one_scope",
                "give exactly one of zone, incident or residents",
            )
            .into());
        }
    };
    if people.is_empty() {
        return Err(Invalid::new(
            "zone",
            "nothing_to_print",
            "no resident to print a code for",
        )
        .into());
    }
    if people.len() > MAX_CARDS {
        return Err(too_many(people.len()));
    }
    let slot = PRINTING
        .clone()
        .try_acquire_owned()
        .map_err(|_| ServiceError::Busy {
            what: "other batches are being printed",
            retry_after_secs: 30,
        })?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    audit::lock_chain(&mut tx).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "codes.print")
            .subject(scope)
            .after(json!({"cards": people.len(), "valid_days": ctx.printed_code_days})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Batch {
        people,
        file_name: format!("safecode-cards-{file_name}.pdf"),
        _slot: slot,
    })
}

fn too_many(n: usize) -> ServiceError {
    Invalid::new(
        "residents",
        "too_many_cards",
        format!("{n} cards: at most {MAX_CARDS} in one batch; print the area in parts"),
    )
    .into()
}

/// Writes the batch's PDF into `out`, a page at a time. Stops early when the receiver has
/// gone (the download was cancelled).
pub async fn stream(ctx: Ctx, batch: Batch, out: mpsc::Sender<std::io::Result<Vec<u8>>>) {
    if let Err(e) = write(&ctx, batch, &out).await {
        tracing::warn!(error = %e, "a printing batch stopped");
        let _ = out
            .send(Err(std::io::Error::other(
                "the batch could not be finished",
            )))
            .await;
    }
}

async fn write(
    ctx: &Ctx,
    batch: Batch,
    out: &mpsc::Sender<std::io::Result<Vec<u8>>>,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let lifetime = Duration::days(ctx.printed_code_days);
    let mut writer = SheetWriter::new(FONT, batch.len())?;
    for page in batch.people.chunks(CARDS_PER_PAGE) {
        let mut cards = Vec::with_capacity(page.len());
        for r in page {
            let issued = issue_for(ctx, r, lifetime).await?;
            let (qr_size, qr_dark) = crate::qr::modules(&issued.token)?;
            cards.push(Card {
                qr_size,
                qr_dark,
                name_zh: masked_name(&r.name),
                name_en: masked_latin(&r.name),
                id_last4: r.id_last4.clone(),
                address: r.address.clone().unwrap_or_default(),
            });
        }
        // Laying out a page is CPU work: off the server's request threads.
        let (w, bytes) = tokio::task::spawn_blocking(move || {
            let bytes = writer.page(&cards);
            (writer, bytes)
        })
        .await?;
        writer = w;
        if out.send(Ok(bytes?)).await.is_err() {
            return Ok(());
        }
    }
    let tail = tokio::task::spawn_blocking(move || writer.finish()).await??;
    let _ = out.send(Ok(tail)).await;
    Ok(())
}
