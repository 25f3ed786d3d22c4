//! Bulk registration from CSV, streamed: a blocking thread parses and checks lines while the
//! async side inserts the previous batch. Each bad line is reported and skipped; a document
//! already registered is counted, not duplicated, so a file can be imported again safely.

use super::residents::row;
use super::status_slots::ListSlots;
use super::zones::Placed;
use super::{Action, Ctx, Principal, Result, authz};
use crate::domain::resident::ResidentForm;
use crate::domain::resident::pack_facts;
use crate::domain::{AuditDraft, IdType, Invalid, Location, NewResident};
use crate::keys::IdHashKey;
use crate::store::audit;
use crate::store::residents::{self, Inserted, ResidentRow};
use chrono::{Datelike, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use std::io::Read;
use tokio::sync::mpsc;

/// Rows per transaction (and per audit entry). Large, because the three unique indexes
/// over random keys dirty a page per row: a small transaction would write each page to the
/// WAL again and again. A crash loses at most one batch, and re-importing is safe.
pub const BATCH_ROWS: usize = 25_000;
/// Line errors listed in the report; the rest are counted.
const MAX_LISTED_ERRORS: usize = 1000;

pub const COLUMNS: [&str; 9] = [
    "name",
    "id_type",
    "id_number",
    "phone",
    "address",
    "lat",
    "lon",
    "birth_year",
    "needs",
];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub imported: u64,
    /// Lines whose document was already registered (or repeated earlier in the file).
    pub already_registered: u64,
    pub rejected: u64,
    /// The first 1,000 rejected lines with their reasons.
    pub errors: Vec<LineError>,
    pub errors_truncated: bool,
}

impl ImportReport {
    fn reject(&mut self, e: LineError) {
        self.rejected += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(e);
        } else {
            self.errors_truncated = true;
        }
    }
}

/// Reads one CSV record into a registration form. Pure: used by the import and fuzzed alone.
pub fn form_from_record(header: &Header, rec: &csv::StringRecord) -> Result<ResidentForm, Invalid> {
    let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim).unwrap_or("");
    let opt = |i: Option<usize>| Some(get(i)).filter(|s| !s.is_empty()).map(str::to_owned);
    let number = |field: &str, i: Option<usize>| -> Result<Option<f64>, Invalid> {
        match get(i) {
            "" => Ok(None),
            s => s.parse::<f64>().map(Some).map_err(|_| {
                Invalid::new(field, "invalid_number", format!("{field} is not a number"))
            }),
        }
    };
    let location = match (number("lat", header.lat)?, number("lon", header.lon)?) {
        (Some(lat), Some(lon)) => Some(Location { lat, lon }),
        (None, None) => None,
        _ => {
            return Err(Invalid::new(
                "location",
                "invalid_location",
                "give both lat and lon, or neither",
            ));
        }
    };
    let birth_year = match get(header.birth_year) {
        "" => None,
        s => Some(s.parse::<i64>().map_err(|_| {
            Invalid::new(
                "birth_year",
                "invalid_birth_year",
                "birth_year is not a whole number",
            )
        })?),
    };
    Ok(ResidentForm {
        language: None,
        name: get(header.name).to_owned(),
        id_type: Some(IdType::parse(get(header.id_type))?),
        id_number: get(header.id_number).to_owned(),
        phone: opt(header.phone),
        address: opt(header.address),
        location,
        birth_year,
        needs: get(header.needs)
            .split([';', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        dependents: Vec::new(),
    })
}

/// Where each known column is in this file.
#[derive(Debug, Clone, Default)]
pub struct Header {
    name: Option<usize>,
    id_type: Option<usize>,
    id_number: Option<usize>,
    phone: Option<usize>,
    address: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    birth_year: Option<usize>,
    needs: Option<usize>,
}

impl Header {
    pub fn parse(rec: &csv::StringRecord) -> Result<Self, Invalid> {
        let find = |n: &str| {
            rec.iter().position(|h| {
                h.trim()
                    .trim_start_matches('\u{feff}')
                    .eq_ignore_ascii_case(n)
            })
        };
        let h = Header {
            name: find("name"),
            id_type: find("id_type"),
            id_number: find("id_number"),
            phone: find("phone"),
            address: find("address"),
            lat: find("lat"),
            lon: find("lon"),
            birth_year: find("birth_year"),
            needs: find("needs"),
        };
        if h.name.is_none() || h.id_number.is_none() {
            return Err(Invalid::new(
                "header",
                "missing_columns",
                format!(
                    "the first line must name the columns; name and id_number are required (known: {})",
                    COLUMNS.join(",")
                ),
            ));
        }
        Ok(h)
    }
}

/// What the parsing thread hands to the inserting side.
enum Parsed {
    Batch {
        rows: Vec<(u64, ResidentRow)>,
        errors: Vec<LineError>,
        bytes: u64,
    },
    Fatal(LineError),
}

fn parse_lines<R: Read>(reader: R, key: IdHashKey, tx: mpsc::Sender<Parsed>) {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(reader);
    let now = Utc::now();
    let year = now.year();
    let mut rec = csv::ByteRecord::new();
    let mut header: Option<Header> = None;
    let mut rows = Vec::with_capacity(BATCH_ROWS);
    let mut errors = Vec::new();
    loop {
        let line = csv.position().line();
        let more = match csv.read_byte_record(&mut rec) {
            Ok(more) => more,
            Err(e) => {
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                let err = LineError {
                    line,
                    field: "line".into(),
                    code: "malformed_csv".into(),
                    reason: csv_reason(&e),
                };
                if fatal {
                    let _ = tx.blocking_send(Parsed::Fatal(err));
                    return;
                }
                errors.push(err);
                continue;
            }
        };
        if more {
            let line = rec.position().map_or(line, |p| p.line());
            let text = match csv::StringRecord::from_byte_record(rec.clone()) {
                Ok(t) => t,
                Err(_) => {
                    errors.push(LineError {
                        line,
                        field: "line".into(),
                        code: "invalid_utf8".into(),
                        reason: "the line is not valid UTF-8".into(),
                    });
                    continue;
                }
            };
            match &header {
                None => match Header::parse(&text) {
                    Ok(h) => header = Some(h),
                    Err(e) => {
                        let _ = tx.blocking_send(Parsed::Fatal(LineError {
                            line,
                            field: e.field,
                            code: e.code.into(),
                            reason: e.message,
                        }));
                        return;
                    }
                },
                Some(h) => {
                    if text.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    match form_from_record(h, &text).and_then(|f| NewResident::parse(&f, year)) {
                        Ok(r) => rows.push((line, row(&key, &r, None, "import", now))),
                        Err(e) => errors.push(LineError {
                            line,
                            field: e.field,
                            code: e.code.into(),
                            reason: e.message,
                        }),
                    }
                }
            }
        }
        if rows.len() >= BATCH_ROWS || (!more && (!rows.is_empty() || !errors.is_empty())) {
            let batch = Parsed::Batch {
                rows: std::mem::replace(&mut rows, Vec::with_capacity(BATCH_ROWS)),
                errors: std::mem::take(&mut errors),
                bytes: csv.position().byte(),
            };
            if tx.blocking_send(batch).is_err() {
                return; // the inserting side gave up
            }
        }
        if !more {
            if header.is_none() {
                let _ = tx.blocking_send(Parsed::Fatal(LineError {
                    line: 1,
                    field: "header".into(),
                    code: "empty_file".into(),
                    reason: "the file has no header line".into(),
                }));
            }
            return;
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the line is not valid UTF-8".into(),
        csv::ErrorKind::Io(_) => "the upload was interrupted".into(),
        _ => "the line is not well-formed CSV".into(),
    }
}

/// Imports residents from CSV. `progress` is told how many bytes have been read.
pub async fn import_csv<R, P>(
    ctx: &Ctx,
    p: Option<&Principal>,
    reader: R,
    progress: P,
) -> Result<ImportReport>
where
    R: Read + Send + 'static,
    P: Fn(u64) + Send,
{
    let actor = match p {
        Some(p) => {
            authz::authorize(p, Action::ImportResidents)?;
            p.actor()
        }
        None => "operator".to_owned(),
    };
    let (tx, mut rx) = mpsc::channel(2);
    let key = ctx.id_key.clone();
    let parser = tokio::task::spawn_blocking(move || parse_lines(reader, key, tx));

    let mut slots = ListSlots::load(&ctx.db).await?;
    let mut report = ImportReport::default();
    let mut rng = rand::rng();
    while let Some(msg) = rx.recv().await {
        match msg {
            Parsed::Fatal(e) => {
                report.reject(e);
                break;
            }
            Parsed::Batch {
                mut rows,
                errors,
                bytes,
            } => {
                for e in errors {
                    report.reject(e);
                }
                if let Some(p) = p.filter(|p| authz::jurisdiction(p).is_some()) {
                    // An official with a district registers people inside it only.
                    rows.retain(|(line, r)| {
                        let inside =
                            authz::sees(p, crate::domain::Location::from_columns(r.lat, r.lon));
                        if !inside {
                            report.reject(LineError {
                                line: *line,
                                field: "location".into(),
                                code: "outside_jurisdiction".into(),
                                reason: "the location lies outside your jurisdiction".into(),
                            });
                        }
                        inside
                    });
                }
                insert_batch(ctx, &actor, &mut rows, &mut slots, &mut rng, &mut report).await?;
                progress(bytes);
            }
        }
    }
    drop(rx);
    let _ = parser.await;
    if report.imported > 0 {
        ctx.db.analyze(&["residents", "zone_members"]).await?;
    }
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

async fn insert_batch(
    ctx: &Ctx,
    actor: &str,
    rows: &mut [(u64, ResidentRow)],
    slots: &mut ListSlots,
    rng: &mut impl Rng,
    report: &mut ImportReport,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let lists: Vec<_> = rows
        .iter()
        .map(|(_, r)| slots.list_of(Location::from_columns(r.lat, r.lon)))
        .collect();
    let mut wanted = std::collections::HashMap::new();
    for l in &lists {
        *wanted.entry(*l).or_insert(0u64) += 1;
    }
    let mut tx = ctx.db.begin().await?;
    slots.reserve(&mut tx, &wanted).await?;
    for ((_, r), list) in rows.iter_mut().zip(&lists) {
        r.status_index = slots.draw(*list, rng)?;
    }
    let (mut imported, mut already) = (0u64, 0u64);
    let mut located = Vec::new();
    let mut pending: Vec<&mut ResidentRow> = rows.iter_mut().map(|(_, r)| r).collect();
    // A slot taken meanwhile by a registration on another server: draw again.
    for _ in 0..16 {
        let batch: Vec<ResidentRow> = pending.iter().map(|r| (**r).clone()).collect();
        let outcome = residents::insert_many(&mut tx, &batch).await?;
        let mut retry = Vec::new();
        for (r, o) in pending.into_iter().zip(outcome) {
            match o {
                Inserted::Yes(id) => {
                    imported += 1;
                    if let (Some(lat), Some(lon)) = (r.lat, r.lon) {
                        located.push(Placed {
                            id,
                            location: Location { lat, lon },
                            facts: pack_facts(&r.needs, &[]),
                        });
                    }
                }
                Inserted::DuplicateDocument => already += 1,
                Inserted::SlotTaken => {
                    let list = crate::domain::ListSlot::from_stored(r.status_index)
                        .and_then(|s| s.district);
                    r.status_index = slots.draw(list, rng)?;
                    retry.push(r);
                }
            }
        }
        pending = retry;
        if pending.is_empty() {
            break;
        }
    }
    if !pending.is_empty() {
        return Err(super::ServiceError::internal("no free status slots"));
    }
    let first = rows.first().map_or(0, |(l, _)| *l);
    let last = rows.last().map_or(0, |(l, _)| *l);
    // The batch moved colours only in the lists its residents took slots in.
    let mut lists: Vec<i64> = wanted
        .keys()
        .map(|d| crate::domain::ids::list_key(*d))
        .collect();
    lists.sort_unstable();
    audit::append(
        &mut tx,
        &AuditDraft::new(actor, "residents.import")
            .after(
                json!({"lines": [first, last], "imported": imported, "already_registered": already}),
            )
            .moves_lists(lists),
        Utc::now(),
    )
    .await?;
    super::zones::place(&mut tx, &located).await?;
    tx.commit().await?;
    report.imported += imported;
    report.already_registered += already;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header::parse(&csv::StringRecord::from(COLUMNS.to_vec())).unwrap()
    }

    #[test]
    fn a_line_becomes_a_form() {
        let rec = csv::StringRecord::from(vec![
            "王芳",
            "",
            "11010519491231002X",
            "13912345678",
            "",
            "30.1",
            "120.2",
            "",
            "elderly; medical",
        ]);
        let f = form_from_record(&header(), &rec).unwrap();
        assert_eq!(f.needs, vec!["elderly", "medical"]);
        assert_eq!(
            f.location,
            Some(Location {
                lat: 30.1,
                lon: 120.2
            })
        );
    }

    #[test]
    fn half_a_location_or_a_bad_number_is_refused() {
        let rec = csv::StringRecord::from(vec![
            "王芳",
            "",
            "11010519491231002X",
            "",
            "",
            "30.1",
            "",
            "",
            "",
        ]);
        assert_eq!(
            form_from_record(&header(), &rec).unwrap_err().code,
            "invalid_location"
        );
        let rec = csv::StringRecord::from(vec![
            "王芳",
            "",
            "11010519491231002X",
            "",
            "",
            "north",
            "1",
            "",
            "",
        ]);
        assert_eq!(
            form_from_record(&header(), &rec).unwrap_err().code,
            "invalid_number"
        );
    }

    #[test]
    fn header_needs_name_and_id_number() {
        assert!(Header::parse(&csv::StringRecord::from(vec!["name", "phone"])).is_err());
        assert!(Header::parse(&csv::StringRecord::from(vec!["\u{feff}Name", "ID_NUMBER"])).is_ok());
    }

    #[test]
    fn slots_are_distinct_and_the_space_grows() {
        let mut s = crate::service::status_slots::Slots::new(&[0, 1, 2], 0);
        assert_eq!(s.space, crate::domain::ids::MIN_STATUS_SPACE);
        assert!(s.reserve(100_000).unwrap());
        let mut rng = rand::rng();
        let drawn: std::collections::HashSet<u32> =
            (0..100_000).map(|_| s.draw(&mut rng)).collect();
        assert_eq!(drawn.len(), 100_000);
        assert!(!drawn.contains(&0) && !drawn.contains(&1) && !drawn.contains(&2));
        assert!(s.space as u64 >= 2 * 100_003);
    }
}
