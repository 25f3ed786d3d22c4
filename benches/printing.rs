//! Printing figures: `cargo bench --bench printing` (PRINT_BENCH_CARDS, default 10,000).
//!
//! A zone of that many residents printed as one PDF on SQLite, from the request to the last
//! byte: the batch gathered and audited, a season's code issued and signed per person, each
//! code drawn as vectors, every page laid out and compressed, the font subset embedded.
//! Goal: 10,000 cards in under a minute. Baseline in the same run: issuing the same codes
//! and encoding their QR matrices without any PDF (what any printing must do at least).

#[path = "common/mod.rs"]
mod common;

use safecode::service::codes;
use safecode::service::printing::{self, PrintForm};
use safecode::startup;
use std::time::Instant;

async fn run(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let ctx = startup::context(&settings).await.unwrap();
    let (official, zone) = common::zone_of_synthetic_residents(&ctx, n).await;

    let row = safecode::store::zones::get(&ctx.db, zone.id)
        .await
        .unwrap()
        .unwrap();
    let people = safecode::store::residents::in_zone(&ctx.db, row.id)
        .await
        .unwrap();
    let start = Instant::now();
    for r in &people {
        let issued = codes::issue_for(&ctx, r, chrono::Duration::days(180))
            .await
            .unwrap();
        std::hint::black_box(safecode::qr::modules(&issued.token).unwrap());
    }
    let floor = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let batch = printing::prepare(
        &ctx,
        &official,
        &PrintForm {
            zone: Some(zone.id),
            incident: None,
            residents: None,
        },
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(printing::stream(ctx.clone(), batch, tx));
    let (mut bytes, mut first) = (0usize, None);
    while let Some(chunk) = rx.recv().await {
        first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        bytes += chunk.unwrap().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("printed codes for a zone of {n} residents on SQLite");
    println!("  codes issued + QR matrices, no PDF : {floor:6.2} s");
    println!(
        "  POST /v1/print/cards (service)     : {secs:6.2} s   ({:.2} x the floor; goal < 60 s), \
         first page after {:.2} s, {:.1} MB",
        secs / floor,
        first.unwrap_or(0.0),
        bytes as f64 / 1e6
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("PRINT_BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}
