//! The CSV import's line reader: a header and records read into registration forms and parsed
//! as residents, on any bytes. Never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use safecode::domain::NewResident;
use safecode::service::import::{Header, form_from_record};

fuzz_target!(|data: &[u8]| {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut records = reader.records();
    let Some(Ok(first)) = records.next() else {
        return;
    };
    let Ok(header) = Header::parse(&first) else {
        return;
    };
    for rec in records.take(64).flatten() {
        if let Ok(form) = form_from_record(&header, &rec) {
            let _ = NewResident::parse(&form, 2026);
        }
    }
});
