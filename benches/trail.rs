//! Trail figures: `cargo bench --bench trail` (TRAIL_BENCH_ENTRIES, default 1,000).
//!
//! A resident whose record has that many entries (officials' reads and changes of details,
//! each audited, in a chain of 100,000 other entries) asks for their trail. Baseline in the
//! same run: the bare indexed read of those audit rows, the floor of any trail.

#[path = "common/mod.rs"]
mod common;

use safecode::service::{Principal, residents, trail};
use std::time::Instant;

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let ctx = safecode::startup::context(&settings).await.unwrap();
    // Others' history: a chain that is not only this resident's.
    common::zone_of_synthetic_residents(&ctx, 100_000).await;
    let official = common::official(&ctx).await;
    let form: safecode::domain::resident::ResidentForm =
        serde_json::from_value(serde_json::json!({
        "name": "王小明", "id_number": "11010519491231002X", "phone": "13912345678",
        "location": {"lat": 30.2, "lon": 120.3}}))
        .unwrap();
    let reg = residents::register(&ctx, &form, None).await.unwrap();
    let me = safecode::service::users::authenticate(
        &ctx,
        &reg.access_token,
        safecode::store::users::Carrier::Header,
    )
    .await
    .unwrap();
    let Principal::Resident { id, .. } = &me else {
        unreachable!()
    };
    for i in 0..n {
        if i % 2 == 0 {
            residents::get(&ctx, &official, *id).await.unwrap();
        } else {
            let patch: safecode::domain::resident::ResidentPatchForm =
                serde_json::from_value(serde_json::json!({"address": format!("新街 {i} 号")}))
                    .unwrap();
            residents::patch(&ctx, &official, *id, &patch)
                .await
                .unwrap();
        }
    }
    let subject = format!("resident:{id}");
    let trail_len = trail::mine(&ctx, &me).await.unwrap().entries.len();
    assert!(trail_len > n, "{trail_len}");

    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut bare, mut full) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        let start = Instant::now();
        let rows = safecode::store::trail::audit_about(&ctx.db, &subject, 2000)
            .await
            .unwrap();
        bare.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(rows.len() > n);
        let start = Instant::now();
        let t = trail::mine(&ctx, &me).await.unwrap();
        full.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(t.entries.len(), trail_len);
    }
    let (bare, full) = (median(bare), median(full));
    println!("a resident's trail of {trail_len} entries on SQLite (median of 21)");
    println!("  bare read of their audit rows         : {bare:7.2} ms");
    println!(
        "  GET /v1/residents/me/history (service) : {full:7.2} ms   ({:.1} x the bare read)",
        full / bare
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("TRAIL_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}
