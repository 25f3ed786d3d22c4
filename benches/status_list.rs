//! Status list figures: `cargo bench --bench status_list` (STATUS_BENCH_RESIDENTS, default
//! 1,000,000).
//!
//! 1. Size: a signed list of 1,000,000 slots with 1 %, 10 % and 30 % of them red at random
//!    (the rest green), alone and as the verifier bundle's JSON (raw and gzip as served with
//!    `Accept-Encoding: gzip`). Goal: ≤ 100 KB at 10 %.
//! 2. Build on SQLite with that many residents and a mandatory order over about 10 % of
//!    them: every colour computed from facts, compressed and signed. Goal ≤ 2 s. Baseline in
//!    the same run: a bare `SELECT status_index FROM residents` read of every row, the floor
//!    any build must pay.

#[path = "common/mod.rs"]
mod common;

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safecode::domain::{Colour, OrderLevel};
use safecode::service::{orders, status_list as lists, zones};
use safecode::startup;
use safecode::token::status_list::{self, Slot, StatusBits, StatusList};
use serde_json::json;
use std::io::Write;
use std::time::Instant;

fn sizes() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    println!("status list size, 1,000,000 slots");
    for share in [0.01, 0.10, 0.30] {
        let mut rng = StdRng::seed_from_u64(5);
        let mut bits = StatusBits::new(1_000_000);
        for i in 0..1_000_000 {
            if rng.random_bool(share) {
                bits.set(i, Slot::Colour(Colour::Red));
            }
        }
        let signed = status_list::sign(
            &StatusList {
                district: None,
                epoch: 1,
                issued_at: 1_800_000_000,
                expires_at: 1_800_021_600,
                rules_version: 1,
                bits,
            },
            &key,
        );
        let bundle = json!({
            "format": "safecode-bundle/1", "server_time": 1_800_000_000, "max_age_seconds": 21_600,
            "rules_version": 1,
            "status_list": {"epoch": 1, "issued_at": 1_800_000_000, "expires_at": 1_800_021_600,
                            "cose": base64::engine::general_purpose::STANDARD.encode(&signed)},
            "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "kid": "0123456789abcdef", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "status": "active", "created_at": "2026-11-28T00:00:00Z"}]},
        })
        .to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bundle.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        println!(
            "  {:>3.0} % red: signed list {:>7} B   bundle JSON {:>7} B   bundle gzip {:>7} B{}",
            share * 100.0,
            signed.len(),
            bundle.len(),
            gz.len(),
            if share == 0.10 {
                "   (goal <= 100 KB)"
            } else {
                ""
            }
        );
    }
}

fn ellipse(lat: f64, lon: f64, b: f64, a: f64, points: usize) -> serde_json::Value {
    let mut ring: Vec<[f64; 2]> = (0..points)
        .map(|i| {
            let t = i as f64 / points as f64 * std::f64::consts::TAU;
            [lon + a * t.cos(), lat + b * t.sin()]
        })
        .collect();
    ring.push(ring[0]);
    json!({"type": "Polygon", "coordinates": [ring]})
}

async fn build(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let ctx = startup::context(&settings).await.unwrap();
    let mut csv = Vec::new();
    safecode::synthetic::write_csv(&mut csv, n, 11).unwrap();
    let report =
        safecode::service::import::import_csv(&ctx, None, std::io::Cursor::new(csv), |_| {})
            .await
            .unwrap();
    assert_eq!(report.imported, n);
    let official = common::official(&ctx).await;
    // About 10 % of the synthetic residents (see benches/colour.rs).
    let zone = zones::create(
        &ctx,
        &official,
        &zones::ZoneFeature {
            kind: "Feature".into(),
            properties: json!({"name": "10 percent"}),
            geometry: ellipse(30.2, 120.35, 0.0536, 0.0713, 256),
        },
    )
    .await
    .unwrap();
    orders::issue(
        &ctx,
        &official,
        zone.id,
        &orders::OrderForm {
            level: OrderLevel::Mandatory,
            reason: "bench".into(),
            expires_at: None,
            incident_id: None,
        },
        None,
    )
    .await
    .unwrap();

    let scan = || async {
        let start = Instant::now();
        let rows: Vec<i32> = match &ctx.db {
            safecode::store::Db::Sqlite { read, .. } => {
                sqlx::query_scalar("SELECT status_index FROM residents")
                    .fetch_all(read)
                    .await
                    .unwrap()
            }
            safecode::store::Db::Postgres(_) => unreachable!(),
        };
        assert_eq!(rows.len() as u64, n);
        start.elapsed().as_secs_f64()
    };
    let list = || async {
        let start = Instant::now();
        let mut tx = ctx.db.begin().await.unwrap();
        let slots = safecode::service::status_slots::list_space(&mut tx, None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (bits, _) = lists::build(&ctx, &ctx.db, None, slots, chrono::Utc::now())
            .await
            .unwrap();
        let key = ctx.keys.signer().unwrap();
        let signed = status_list::sign(
            &StatusList {
                district: None,
                epoch: 1,
                issued_at: 0,
                expires_at: 1,
                rules_version: 1,
                bits: bits.clone(),
            },
            &key.signing,
        );
        let secs = start.elapsed().as_secs_f64();
        // The bundle as served: base64 in JSON, and gzip on the wire.
        let json = format!(
            "{{\"status_list\":{{\"cose\":\"{}\"}},\"jwks\":{}}}",
            base64::engine::general_purpose::STANDARD.encode(&signed),
            ctx.keys.jwks()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.as_bytes()).unwrap();
        let wire = (json.len() + 200, gz.finish().unwrap().len() + 100);
        let red = (0..bits.count())
            .filter(|i| bits.get(*i) == Some(Slot::Colour(Colour::Red)))
            .count();
        (secs, signed.len(), red, wire)
    };
    // Warm the page cache for both, then measure each twice and keep the faster.
    scan().await;
    list().await;
    let base = scan().await.min(scan().await);
    let (a, size, red, (json, gzip)) = list().await;
    let (b, _, _, _) = list().await;
    let built = a.min(b);
    println!("\nstatus list build on SQLite, {n} residents, {red} red");
    println!("  bare read of every status_index : {base:6.2} s");
    println!(
        "  build (colours from facts, sign): {built:6.2} s   ({:.1} x the bare read; goal <= 2 s)   {size} B signed",
        built / base
    );
    println!(
        "  its bundle: about {json} B of JSON, about {gzip} B with gzip on the wire (goal <= 100 KB)"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    sizes();
    let n: u64 = std::env::var("STATUS_BENCH_RESIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(build(n));
}
