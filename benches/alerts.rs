//! Alert figures: `cargo bench --bench alerts` (ALERT_BENCH_RESIDENTS, default 100,000).
//!
//! An alert to one zone holding that many residents on SQLite, from the call to the answer
//! (recipients snapshotted, audited, committed). Goal ≤ 2 s. Baseline in the same run: a bare
//! `INSERT … SELECT` copying the zone's members into a scratch table, the floor of any
//! snapshot. Then the same residents reached through a drawn GeoJSON area instead of a zone.

#[path = "common/mod.rs"]
mod common;

use safecode::domain::alert::AlertForm;
use safecode::service::alerts;
use safecode::startup;
use serde_json::json;
use std::time::Instant;

async fn run(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let ctx = startup::context(&settings).await.unwrap();
    let (official, zone) = common::zone_of_synthetic_residents(&ctx, n).await;
    let ring = json!(common::ALL_RING);

    let bare = {
        let safecode::store::Db::Sqlite { write, .. } = &ctx.db else {
            unreachable!()
        };
        sqlx::query(
            "CREATE TABLE scratch (a INTEGER, r INTEGER, z INTEGER, t TEXT, PRIMARY KEY (a, r))",
        )
        .execute(write)
        .await
        .unwrap();
        let start = Instant::now();
        sqlx::query(
            "INSERT INTO scratch (a, r, z) SELECT 1, resident_id, zone_id FROM zone_members",
        )
        .execute(write)
        .await
        .unwrap();
        start.elapsed().as_secs_f64()
    };
    let mut form = AlertForm {
        zones: vec![zone.id],
        area: None,
        area_desc: None,
        headline: "Levee breach".into(),
        description: "Water rising.".into(),
        instruction: "Leave now.".into(),
        category: None,
        event: "Flood".into(),
        response_type: "Evacuate".into(),
        urgency: "Immediate".into(),
        severity: "Extreme".into(),
        certainty: "Observed".into(),
        expires_at: None,
        incident_id: None,
        msg_type: None,
        references: None,
        escalate_after: None,
        language: None,
        translation: None,
    };
    let start = Instant::now();
    let sent = alerts::send(&ctx, &official, &form, None).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sent.recipients as u64, n);
    println!("alert to a zone of {n} residents on SQLite");
    println!("  bare INSERT ... SELECT of the members : {bare:6.2} s");
    println!(
        "  POST /v1/alerts (service, snapshot)    : {secs:6.2} s   ({:.1} x the bare copy; goal <= 2 s)",
        secs / bare
    );
    // The same people through a drawn area: candidates by bounding box, point in polygon in
    // Rust, then chunked inserts.
    form.zones.clear();
    form.area = Some(json!({"type": "Polygon", "coordinates": ring}));
    let start = Instant::now();
    let sent = alerts::send(&ctx, &official, &form, None).await.unwrap();
    let area_secs = start.elapsed().as_secs_f64();
    assert_eq!(sent.recipients as u64, n);
    println!(
        "  the same to a drawn area               : {area_secs:6.2} s   ({:.1} x the bare copy)",
        area_secs / bare
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("ALERT_BENCH_RESIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}
